// The gateway with the real parts: mosquitto on loopback, two emulated
// devices (the same core as the firmware) dialling the gateway over TCP,
// traffic both ways counted end to end. Under that traffic: a reload that
// pushes a device config and changes routing, a broker restart, a refused
// bad config, a key rotation that cuts a device off; then metrics scraped.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { writeFileSync, readFileSync, mkdtempSync } from "node:fs";
import { execFile } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { connect, type MqttClient } from "mqtt";
import { ROOT } from "../../host/status.ts";
import { readKey } from "../../selftest/targets.ts";
import { Gateway, type ReloadResult } from "../gateway.ts";
import type { DeviceEvent } from "../event-log.ts";
import { Mosquitto, TcpDevice, freePort, sleep, until } from "./helpers.ts";
import { ConfigKey, QosStat } from "../../host/abi.ts";

const KEY_HEX = readFileSync(join(ROOT, "boards/dev-psk.hex"), "utf8");
const dir = mkdtempSync(join(tmpdir(), "qn-gw-"));
const log: string[] = [];
const logger = pino(
  { level: "info" },
  {
    write: (s: string) => {
      log.push(s);
    },
  },
);

interface Ports {
  broker: number;
  ops: number;
  d1: number;
  d2: number;
}

function configText(p: Ports, o: { heartbeat?: number; key2?: string; bad?: boolean } = {}): string {
  const dev = (id: string, port: number, key: string) => `
  - id: ${id}
    transport: { tcp: { listen: "127.0.0.1:${port}" } }
    key_file: ${key}
    journal: ${id}.journal
    heartbeat_ms: ${o.heartbeat ?? 200}
    heartbeat_misses: 5
    channels:
      - { channel: 1, topic: telemetry, qos: 1, direction: up }
      - { channel: 2, topic: events, qos: 2, direction: up }
      - { channel: 9, topic: cmd, qos: 2, direction: down }`;
  return `gateway:
  ops: { listen: "127.0.0.1:${p.ops}", token_file: ops.token }
  spool: mqtt.spool
  log_level: info
mqtt:
  url: "mqtt://127.0.0.1:${p.broker}"
  topic_prefix: qn
  queue_limit: ${o.bad ? "-5" : "5000"}
devices:${dev("dev1", p.d1, "k1.hex")}${dev("dev2", p.d2, o.key2 ?? "k2.hex")}
`;
}

describe("gateway with mosquitto and two emulated devices", () => {
  let broker: Mosquitto, gw: Gateway, sub: MqttClient, pub: MqttClient, ports: Ports;
  const devs: TcpDevice[] = [];
  const got = new Map<string, Set<string>>(); // topic -> payloads
  const cfg = join(dir, "gateway.yaml");

  beforeAll(async () => {
    ports = { broker: await freePort(), ops: await freePort(), d1: await freePort(), d2: await freePort() };
    broker = new Mosquitto(ports.broker);
    await broker.start();
    writeFileSync(join(dir, "k1.hex"), KEY_HEX);
    writeFileSync(join(dir, "k2.hex"), KEY_HEX);
    writeFileSync(cfg, configText(ports));
    gw = Gateway.fromFile(cfg, { log: logger });
    await gw.start();
    // A persistent subscriber session: it gets what the broker held for it
    // across the broker restart.
    sub = connect(broker.url, {
      clientId: "qn-test-sub",
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 600 },
      reconnectPeriod: 200,
    });
    sub.on("message", (topic, payload) => {
      if (!got.has(topic)) got.set(topic, new Set());
      got.get(topic)!.add(payload.toString());
    });
    await new Promise<void>((r) => sub.once("connect", () => sub.subscribe("qn/#", { qos: 2 }, () => r())));
    // Commands are published with a persistent session too: with a clean
    // one, a QoS 2 command whose PUBREL the broker missed as it stopped is
    // "completed" by the restarted broker and lost
    // (broker-restart-downlink.test.ts shows it step by step).
    pub = connect(broker.url, {
      clientId: "qn-test-pub",
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 600 },
      reconnectPeriod: 200,
    });
    await new Promise<void>((r) => pub.once("connect", () => r()));
    const key = readKey(join(dir, "k1.hex"));
    devs.push(new TcpDevice("dev1", `127.0.0.1:${ports.d1}`, key), new TcpDevice("dev2", `127.0.0.1:${ports.d2}`, key));
    for (const d of devs) void d.run();
    await until(
      "both links up",
      () => devs.every((d) => d.up) && [...gw.links.values()].every((l) => l.state === "up"),
    );
  }, 30000);

  afterAll(async () => {
    for (const d of devs) await d.stop();
    await gw?.stop();
    sub?.end(true);
    pub?.end(true);
    await broker?.stop();
  });

  const token = () => readFileSync(join(dir, "ops.token"), "utf8").trim();
  const ops = (path: string, method = "GET") =>
    fetch(`http://127.0.0.1:${ports.ops}${path}`, { method, headers: { authorization: `Bearer ${token()}` } });

  it("moves messages both ways with zero loss through a reload, a config push and a broker restart", async () => {
    let producing = true;
    // Each device: QoS 1 on channel 1, QoS 2 on channel 2, as fast as the
    // window allows, paced so both devices share the two cores.
    const producers = devs.map(async (d) => {
      let n = 0;
      while (producing) {
        for (let i = 0; i < 8; i++) {
          if (d.publish(1 + (n % 2), 1 + (n % 2), n)) n++;
        }
        await sleep(2);
      }
    });
    const downSent: Record<string, number> = { dev1: 0, dev2: 0 };
    // Commands count once the broker acknowledged them to our publisher
    // (PUBCOMP): the gateway's promise starts there.
    const downAcked: Record<string, number> = { dev1: 0, dev2: 0 };
    const downlink = (async () => {
      while (producing) {
        for (const id of ["dev1", "dev2"])
          pub.publish(`qn/${id}/cmd`, `cmd-${downSent[id]++}`, { qos: 2 }, (err) => {
            if (!err) downAcked[id]++;
          });
        await sleep(10);
      }
    })();
    const sessions = () => [...gw.links.values()].map((l) => `${l.id}:${l.sessionId}`).join(",");
    const downs = async () => (await gw.metrics.linkDowns.get()).values.reduce((a, v) => a + v.value, 0);
    await sleep(1500);
    const before = sessions();

    // 1. Reload under traffic: new heartbeat (pushed as T_CONFIG) and a new
    //    uplink route, links stay up.
    writeFileSync(
      cfg,
      configText(ports, { heartbeat: 300 }).replace(
        "      - { channel: 9,",
        "      - { channel: 3, topic: extra, qos: 0, direction: up }\n      - { channel: 9,",
      ),
    );
    const logBefore = log.length; // the link-up pushes logged the same line already
    const r = (await (await ops("/reload", "POST")).json()) as ReloadResult;
    expect(r.ok).toBe(true);
    expect(r.pushed.sort()).toEqual(["dev1", "dev2"]);
    const applied = (id: string) =>
      log.slice(logBefore).some((l) => l.includes("device config applied") && l.includes(id));
    await until("config pushed", () => applied("dev1") && applied("dev2"), 5000);
    expect(devs.map((d) => d.sim!.core.getConfig(ConfigKey.HEARTBEAT_MS))).toEqual([300, 300]);
    await sleep(1000);

    // 2. A bad config is refused with the key named; the running one stays.
    //    Another file than the gateway's own is not read at all.
    const good = readFileSync(cfg, "utf8");
    writeFileSync(cfg, configText(ports, { bad: true }));
    const bad = await ops("/reload", "POST");
    writeFileSync(cfg, good);
    expect(bad.status).toBe(422);
    expect(JSON.stringify(await bad.json())).toContain("mqtt.queue_limit");
    writeFileSync(join(dir, "other.yaml"), good);
    expect((await ops(`/reload?file=${encodeURIComponent(join(dir, "other.yaml"))}`, "POST")).status).toBe(400);

    // 3. Broker restart under traffic, commands and messages both flowing.
    await broker.stop();
    await sleep(1500);
    const queuedDuringOutage = gw.bridge.depth;
    await broker.start();
    await sleep(2000);

    producing = false;
    await Promise.all([...producers, downlink]);
    expect(sessions()).toBe(before); // no link dropped, no new session
    expect(await downs()).toBe(0);

    // Everything the devices' cores accepted (QoS 1 and 2) reaches MQTT.
    const report = () =>
      devs
        .map((d) => {
          const m1 = d.sent[1].filter((n) => !got.get(`qn/${d.id}/telemetry`)?.has(`${d.id}:1:${n}`));
          const m2 = d.sent[2].filter((n) => !got.get(`qn/${d.id}/events`)?.has(`${d.id}:2:${n}`));
          return `${d.id}: sent q1 ${d.sent[1].length} q2 ${d.sent[2].length}, missing q1 ${m1.length} [${m1.slice(0, 5)}] q2 ${m2.length} [${m2.slice(0, 5)}], gateway uplink ${gw.links.get(d.id)!.uplink}, q1 next ${d.sim!.core.qosStat(QosStat.Q1_NEXT)} q2 next ${d.sim!.core.qosStat(QosStat.Q2_NEXT)} inflight ${d.sim!.core.qosStat(QosStat.IN_FLIGHT)}`;
        })
        .join("\n") +
      log.filter((l) => l.includes("broker connected")).join("") +
      `\nbridge depth ${gw.bridge.depth} connected ${gw.bridge.connected}`;
    const timer = setTimeout(() => console.log(report()), 15000);
    await until(
      "all uplink messages at the subscriber",
      () =>
        devs.every(
          (d) =>
            d.sent[1].every((n) => got.get(`qn/${d.id}/telemetry`)?.has(`${d.id}:1:${n}`)) &&
            d.sent[2].every((n) => got.get(`qn/${d.id}/events`)?.has(`${d.id}:2:${n}`)),
        ),
      30000,
    );
    clearTimeout(timer);
    // And every command reaches its device's core (QoS 2 accepted count).
    const t2 = setTimeout(
      () =>
        console.log(
          devs
            .map(
              (d) =>
                `${d.id}: sent ${downSent[d.id]} gw downlink ${gw.links.get(d.id)!.downlink} queued ${gw.links.get(d.id)!.downQueued} dev q2 accepted ${d.sim!.core.qosStat(QosStat.Q2_ACCEPTED)} delivered ${d.sim!.core.qosStat(QosStat.Q2_DELIVERED)} expected ${d.sim!.core.qosStat(QosStat.Q2_EXPECTED)}`,
            )
            .join("\n"),
        ),
      10000,
    );
    await until(
      "all downlink commands at the devices",
      () => devs.every((d) => d.sim!.core.qosStat(QosStat.Q2_ACCEPTED) >= downAcked[d.id]),
      20000,
    );
    clearTimeout(t2);
    const up = devs.reduce((a, d) => a + d.sent[1].length + d.sent[2].length, 0);
    const down = downAcked.dev1 + downAcked.dev2;
    const lost = devs.reduce(
      (a, d) =>
        a +
        d.sent[1].filter((n) => !got.get(`qn/${d.id}/telemetry`)?.has(`${d.id}:1:${n}`)).length +
        d.sent[2].filter((n) => !got.get(`qn/${d.id}/events`)?.has(`${d.id}:2:${n}`)).length,
      0,
    );
    console.log(
      `gateway test: 2 devices, ${up} uplink messages (QoS 1+2), ${down} downlink (QoS 2), ${queuedDuringOutage} queued during the broker outage, reload applied under traffic, link drops 0, lost ${lost}`,
    );
    expect(lost).toBe(0);
    expect(up).toBeGreaterThan(500);
    expect(gw.bridge.depth).toBe(0);

    // 4. Metrics and the ops API.
    const m = await (await ops("/metrics")).text();
    expect(m).toMatch(/qn_link_up\{device="dev1"\} 1/);
    expect(m).toMatch(/qn_link_up\{device="dev2"\} 1/);
    expect(m).toMatch(/qn_broker_queue_depth 0/);
    expect(m).toMatch(/qn_uplink_messages_total\{device="dev1",qos="1"\} \d+/);
    expect(m).toMatch(/qn_rtt_seconds_count\{device="dev1"\} [1-9]/);
    expect(m).toMatch(/qn_device_config_push_total\{device="dev1",result="applied"\} [1-9]/);
    expect((await fetch(`http://127.0.0.1:${ports.ops}/metrics`)).status).toBe(401);
    const openapi = (await (await fetch(`http://127.0.0.1:${ports.ops}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(openapi.paths["/metrics"]).toBeTruthy();
    const ev = (await (await ops("/devices/dev1/log")).json()) as { device: string; events: DeviceEvent[] };
    expect(ev.events.map((e) => e.event)).toContain("config applied");
  }, 90000);

  it("cuts off a device whose key is rotated, at once, and does not let it back with the old key", async () => {
    const other = "ab".repeat(16);
    writeFileSync(join(dir, "k2-new.hex"), other + "\n");
    writeFileSync(cfg, configText(ports, { key2: "k2-new.hex" }));
    const connectsBefore = devs[1].connects;
    const r = (await (await ops("/reload", "POST")).json()) as ReloadResult;
    expect(r.restarted).toEqual(["dev2"]);
    expect(r.unchanged.concat(r.pushed)).toContain("dev1");
    await until("dev2 cut off", () => !devs[1].up, 3000);
    // It redials with the old key: the handshake fails, no session.
    await until("dev2 redialled", () => devs[1].connects > connectsBefore + 1, 5000);
    await sleep(500);
    expect(gw.links.get("dev2")!.state).not.toBe("up");
    expect(gw.links.get("dev2")!.failures).toBeGreaterThan(0);
    expect(gw.links.get("dev1")!.state).toBe("up");
    // Given the new key, it is back.
    devs[1].key = Uint8Array.from(Buffer.from(other, "hex"));
    await devs[1].t?.close();
    await until("dev2 back with the new key", () => devs[1].up && gw.links.get("dev2")!.state === "up", 10000);
  }, 30000);

  it("qn gateway refuses an invalid config file within seconds, naming the key", async () => {
    const bad = join(dir, "cli-bad.yaml");
    writeFileSync(bad, configText(ports).replace("topic_prefix: qn", "topic_prefix: qn\n  queue_limt: 3"));
    const t0 = Date.now();
    const res = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(join(ROOT, "qn"), ["gateway", "--config", bad], { timeout: 20000 }, (err, _o, stderr) =>
        resolve({ code: err ? ((err as any).code ?? 1) : 0, stderr }),
      );
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('mqtt: unknown key(s) "queue_limt"');
    expect(Date.now() - t0).toBeLessThan(10000);
  }, 30000);
});
