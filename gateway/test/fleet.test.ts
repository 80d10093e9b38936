// Many devices on one listener (issue 18): each device names its key in
// the handshake, the gateway looks it up in the registry and proves the
// session before it makes anything for the device. Shown here with two
// registry devices on one port next to a device on a port of its own: a
// device revoked while connected is cut at once and refused after; a
// device with the wrong key, and one the registry does not know, are
// refused, counted, and get no link, journal or core; registry changes
// (a profile's session settings and channel map, a revocation, a new
// device) apply while another device publishes at QoS 1 and 2 through
// them, and that device's link is untouched (same session, no link down,
// nothing lost).
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { writeFileSync, mkdtempSync, existsSync } from "node:fs";
import { execFile } from "node:child_process";
import { connect as netConnect } from "node:net";
import { once } from "node:events";
import { ROOT } from "../../host/status.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pino from "pino";
import { connect, type MqttClient } from "mqtt";
import { ConfigKey } from "../../host/abi.ts";
import { Gateway } from "../gateway.ts";
import { Mosquitto, TcpDevice, startDevice, freePort, sleep, until, writeDevKey, writeRegistry } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "qn-fleet-"));
const lines: any[] = [];
const logger = pino({ level: "info" }, { write: (s: string) => lines.push(JSON.parse(s)) });
const key = () => Uint8Array.from(randomBytes(32));
const hex = (k: Uint8Array) => Buffer.from(k).toString("hex");
const POOL = 4;

describe("fleet listener and device registry", () => {
  let broker: Mosquitto, gw: Gateway, sub: MqttClient;
  let fleetPort = 0;
  const keys = { a: key(), b: key(), c: key() };
  const devices: TcpDevice[] = [];
  /** Payloads the subscriber got, per topic. */
  const got = new Map<string, string[]>();

  beforeAll(async () => {
    const brokerPort = await freePort();
    fleetPort = await freePort();
    const legacyPort = await freePort();
    const opsPort = await freePort();
    broker = new Mosquitto(brokerPort);
    await broker.start();
    writeDevKey(dir);
    writeRegistry(join(dir, "devices.qnr"), [
      {
        profile: "sensors",
        heartbeat_ms: 1000,
        channels: [
          { channel: 1, topic: "telemetry", qos: 1, direction: "up" },
          { channel: 2, topic: "alarms", qos: 2, direction: "up" },
        ],
      },
      { device: "a", key_id: 1, key: hex(keys.a), profile: "sensors" },
      { device: "b", key_id: 2, key: hex(keys.b), profile: "sensors" },
      { device: "c", key_id: 3, key: hex(keys.c), profile: "sensors" },
    ]);
    writeFileSync(
      join(dir, "gateway.yaml"),
      `gateway: { spool: mqtt.spool, ops: { listen: "127.0.0.1:${opsPort}", token_file: ops.token } }
mqtt: { url: "${broker.url}" }
fleet: { listen: "127.0.0.1:${fleetPort}", registry: devices.qnr, journals: journals, handshake_pool: ${POOL}, handshake_ms: 1000 }
devices:
  - id: legacy
    transport: { tcp: { listen: "127.0.0.1:${legacyPort}" } }
    key_file: k.hex
    journal: legacy.journal
    channels: [{ channel: 1, topic: telemetry, qos: 1, direction: up }]
`,
    );
    gw = Gateway.fromFile(join(dir, "gateway.yaml"), { log: logger });
    await gw.start();
    sub = connect(broker.url, { clientId: "qn-fleet-sub", protocolVersion: 5 });
    sub.on("message", (topic, payload) => {
      const l = got.get(topic) ?? [];
      l.push(payload.toString());
      got.set(topic, l);
    });
    await new Promise<void>((r) => sub.once("connect", () => sub.subscribe("qn/#", { qos: 2 }, () => r())));
    devices.push(await startDevice(gw, "legacy", legacyPort, join(dir, "k.hex")));
  }, 60000);

  afterAll(async () => {
    for (const d of devices) await d.stop();
    await gw?.stop();
    sub?.end(true);
    await broker?.stop();
  });

  const fleetDevice = (id: string, k: Uint8Array, keyId: number) => {
    const d = new TcpDevice(id, `127.0.0.1:${fleetPort}`, k, undefined, keyId);
    devices.push(d);
    void d.run();
    return d;
  };
  const refused = (why: string) => gw.fleet!.listener.refused.get(why as never) ?? 0;
  const downs = async (id: string) =>
    (await gw.metrics.linkDowns.get()).values.filter((v) => v.labels.device === id).reduce((a, v) => a + v.value, 0);

  it("two devices come up on one listener, a per-device port keeps working", async () => {
    const a = fleetDevice("a", keys.a, 1);
    const b = fleetDevice("b", keys.b, 2);
    await until(
      "a and b up",
      () => a.up && b.up && gw.links.get("a")?.state === "up" && gw.links.get("b")?.state === "up",
    );
    expect(gw.links.get("legacy")?.state).toBe("up");
    expect(gw.links.get("a")!.status().transport).toBe(`fleet 127.0.0.1:${fleetPort}`);
    expect(gw.links.get("a")!.sessionId).not.toBe(gw.links.get("b")!.sessionId);
  });

  it("a wrong key and an unknown key id are refused, counted, and get nothing", async () => {
    const instances = gw.fleet!.listener.pool.instances;
    const wrong = fleetDevice("c", key(), 3); // c's id, not c's key
    const stranger = fleetDevice("x", key(), 99);
    await until("both refused", () => refused("wrong_key") >= 2 && refused("unknown") >= 2);
    await wrong.stop();
    await stranger.stop();
    expect(wrong.up || stranger.up).toBe(false);
    expect(gw.links.has("c") || gw.links.has("x")).toBe(false);
    expect(existsSync(join(dir, "journals", "c.journal"))).toBe(false);
    expect(existsSync(join(dir, "journals", "x.journal"))).toBe(false);
    expect(gw.fleet!.pack!.devices.filter((d) => d === "c" || d === "x")).toEqual([]);
    expect(gw.fleet!.pack!.devices).toContain("a"); // the devices that proved their keys have slots
    // Pooled cores only: none made beyond the pool for the refused attempts.
    expect(gw.fleet!.listener.pool.instances).toBeLessThanOrEqual(POOL);
    expect(gw.fleet!.listener.pool.instances).toBeGreaterThanOrEqual(instances);
    expect(gw.fleet!.listener.pool.busy).toBe(0);
    const m = (await gw.metrics.fleetRefused.get()).values;
    expect(m.find((v) => v.labels.reason === "wrong_key")!.value).toBeGreaterThanOrEqual(2);
    // Logged as a count per interval, not a line per attempt.
    expect(lines.filter((l) => l.remote && /refused/.test(l.msg ?? "") && l.device === "c")).toEqual([]);
  });

  it("a connection closed before its first byte (a load balancer's health check) is counted as silent, not warned of", async () => {
    const before = refused("silent"),
      closedBefore = refused("closed");
    const s = netConnect(fleetPort, "127.0.0.1");
    await once(s, "connect");
    s.destroy();
    await until("counted as silent", () => refused("silent") > before);
    expect(refused("closed")).toBe(closedBefore);
    (gw.fleet!.listener as unknown as { logRefusals(): void }).logRefusals();
    expect(lines.filter((l) => l.refused && "silent" in l.refused)).toEqual([]);
    const m = (await gw.metrics.fleetRefused.get()).values;
    expect(m.find((v) => v.labels.reason === "silent")!.value).toBeGreaterThan(0);
  });

  it("registry changes apply live: a revoked device is cut at once and refused after; the other's QoS 1 / 2 stream goes on untouched", async () => {
    const a = devices.find((d) => d.id === "a")!;
    const b = devices.find((d) => d.id === "b")!;
    const linkB = gw.links.get("b")!;
    const peerB = linkB.peer,
      sessionB = linkB.sessionId,
      downsB = await downs("b");
    let publishing = true;
    const stream = (async () => {
      let i = 0;
      while (publishing) {
        if (b.publish(1 + (i % 2), 1 + (i % 2))) i++;
        await sleep(3);
      }
    })();
    await sleep(200);
    // A profile's session settings and channel map change while b sends.
    const changed = await gw.fleet!.change([
      {
        profile: "sensors",
        heartbeat_ms: 1500,
        channels: [
          { channel: 1, topic: "telemetry", qos: 1, direction: "up" },
          { channel: 2, topic: "alarms", qos: 2, direction: "up" },
          { channel: 3, topic: "extra", qos: 1, direction: "up" },
        ],
      },
    ]);
    expect(changed.ok).toBe(true);
    await sleep(200);
    // a is revoked while connected: cut at once.
    const t0 = Date.now();
    const cut = new Promise<number>((r) => a.t!.onClose(() => r(Date.now() - t0)));
    const revoked = await gw.fleet!.change([{ device: "a", revoke: true }]);
    expect(revoked).toEqual({ ok: true, applied: ["device a: revoked"] });
    expect(gw.links.has("a")).toBe(false);
    expect(await cut).toBeLessThan(1000);
    // A device added meanwhile.
    expect((await gw.fleet!.change([{ device: "d", key_id: 4, key: hex(key()), profile: "sensors" }])).ok).toBe(true);
    await sleep(300);
    publishing = false;
    await stream;
    // a keeps dialling: refused as revoked, no link made.
    await until("a refused as revoked", () => refused("revoked") >= 1);
    expect(a.up).toBe(false);
    expect(gw.links.has("a")).toBe(false);
    // The new channel map routes at once.
    await until("channel 3 sent", () => b.publish(3, 1, 0));
    // b: every message through, the same session, no link down.
    const want1 = b.sent[1].map((n) => `b:1:${n}`),
      want2 = b.sent[2].map((n) => `b:2:${n}`);
    expect(want1.length + want2.length).toBeGreaterThan(20);
    await until(
      "all of b's messages at the broker",
      () =>
        want1.every((p) => got.get("qn/b/telemetry")?.includes(p)) &&
        want2.every((p) => got.get("qn/b/alarms")?.includes(p)) &&
        !!got.get("qn/b/extra")?.length,
      15000,
    );
    expect(new Set(got.get("qn/b/alarms")).size).toBe(got.get("qn/b/alarms")!.length); // QoS 2: exactly once
    expect(linkB.peer).toBe(peerB);
    expect(linkB.sessionId).toBe(sessionB);
    expect(await downs("b")).toBe(downsB);
    expect(gw.links.get("b")).toBe(linkB);
    // The new session settings reached b's end of the link.
    await until("heartbeat pushed", () => b.sim!.core.getConfig(ConfigKey.HEARTBEAT_MS) === 1500);
    // Changes are on disk: a restart reads them back.
    const { Registry } = await import("../registry.ts");
    const r = Registry.load(join(dir, "devices.qnr"));
    expect(r.devices.get("a")!.revoked).toBe(true);
    expect(r.devices.has("d")).toBe(true);
    expect(r.profiles.get("sensors")!.heartbeat_ms).toBe(1500);
  }, 60000);

  const qnctl = (...args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((r) =>
      execFile(join(ROOT, "qnctl"), ["-c", join(dir, "gateway.yaml"), ...args], { timeout: 60000 }, (e, out, err) =>
        r({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }),
      ),
    );

  it("qnctl device add, list and revoke change the registry of the running gateway", async () => {
    writeFileSync(join(dir, "f.hex"), hex(key()));
    const add = await qnctl(
      "device",
      "add",
      "f",
      "--key-id",
      "6",
      "--key-file",
      join(dir, "f.hex"),
      "--profile",
      "sensors",
    );
    expect(add).toMatchObject({ code: 0, out: "device f: added\n" });
    expect(gw.fleet!.registry.lookup(6)?.id).toBe("f");
    const list = await qnctl("device", "list");
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^f +key id 6 +sensors +never connected$/m);
    expect(list.out).toMatch(/^a +key id 1 +sensors +REVOKED /m);
    expect(list.out).not.toMatch(new RegExp(hex(keys.b))); // keys never shown
    const revoke = await qnctl("device", "revoke", "f");
    expect(revoke).toMatchObject({ code: 0, out: "device f: revoked\n" });
    expect(gw.fleet!.registry.lookup(6)).toBeUndefined();
    const bad = await qnctl(
      "device",
      "add",
      "g",
      "--key-id",
      "2",
      "--key-file",
      join(dir, "f.hex"),
      "--profile",
      "sensors",
    );
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^qnctl: record 1: device g: key id 2 is b's/);
  }, 60000);

  it("a reconnect starts the link's core again; its counters go on from their totals", async () => {
    const b = devices.find((d) => d.id === "b")!;
    const link = gw.links.get("b")!;
    const core = link.peer!.core;
    const frames = async () =>
      (await gw.metrics.core.framesIn.get()).values.find((v) => v.labels.device === "b")?.value ?? 0;
    await gw.metrics.registry.metrics(); // a scrape reads the counters
    const before = await frames();
    expect(before).toBeGreaterThan(0);
    const session = link.sessionId;
    await b.t!.close(); // the device's connection drops; it dials again
    await until("b back", () => b.up && link.state === "up" && link.sessionId !== session);
    expect(link.peer!.core).toBe(core); // the same Wasm instance, started again
    await gw.metrics.registry.metrics();
    const after = await frames();
    expect(after).toBeGreaterThan(before);
    expect(after - before).toBeLessThan(1000); // not a wrap of 2^32
  }, 30000);

  it("a refused record changes nothing", async () => {
    const r = await gw.fleet!.change([{ device: "e", key_id: 2, key: hex(key()), profile: "sensors" }]);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/key id 2 is b's/);
    expect(gw.fleet!.registry.devices.has("e")).toBe(false);
    const bad = await gw.fleet!.change([{ device: "e", key_id: 5, key: "zz", profile: "nope" }]);
    expect(bad.ok).toBe(false);
  });
});
