// Who may take a device's link over: only a connection that has proved the
// device's key (issue 14, defect 4). With a device's link up and moving
// messages, hostile connections to its port (garbage, a connection that
// sends nothing, a burst of connects, a device with the wrong key answering
// our HELLO, a client sending a HELLO of its own; over TLS, a certificate
// from the same CA with no peer_name configured) leave the link and its
// session alone, and each one is closed by the gateway. A genuine device
// whose process restarted (its old connection left half-open) does take
// the link over, even while connections that say nothing hold the places
// a new connection waits in.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pino from "pino";
import { connect, type MqttClient } from "mqtt";
import { readKey } from "../../selftest/targets.ts";
import { SimDevice } from "../../host/sim-device.ts";
import { Peer } from "../../host/peer.ts";
import { tcpConnect, type TcpTransport } from "../../host/transport/tcp.ts";
import { Gateway } from "../gateway.ts";
import { MAX_CANDIDATES } from "../device-link.ts";
import { CANDIDATE_BYTES } from "../candidate.ts";
import {
  Mosquitto,
  TcpDevice,
  startDevice,
  freePort,
  sleep,
  until,
  writeDevKey,
  makeTestCerts,
  clientTls,
} from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "qn-takeover-"));
const lines: any[] = [];
const logger = pino(
  { level: "info" },
  {
    write: (s: string) => {
      lines.push(JSON.parse(s));
    },
  },
);
const HANDSHAKE_MS = 1000;
const WRONG_KEY = Uint8Array.from(randomBytes(32));

describe("a device's link is taken over only by a connection that proved the key", () => {
  let broker: Mosquitto, gw: Gateway, sub: MqttClient;
  const ports = { broker: 0, plain: 0, tls: 0 };
  const devices: TcpDevice[] = [];
  const hostile: TcpTransport[] = [];
  const sims: SimDevice[] = [];
  const peers: Peer[] = [];
  const got = new Map<string, number>();

  beforeAll(async () => {
    makeTestCerts(dir);
    ports.broker = await freePort();
    ports.plain = await freePort();
    ports.tls = await freePort();
    broker = new Mosquitto(ports.broker);
    await broker.start();
    writeDevKey(dir);
    const dev = (id: string, transport: string) => `
  - id: ${id}
    transport: ${transport}
    key_file: k.hex
    journal: ${id}.journal
    heartbeat_ms: 1000
    handshake_ms: ${HANDSHAKE_MS}
    channels: [{ channel: 1, topic: telemetry, qos: 1, direction: up }]`;
    writeFileSync(
      join(dir, "gateway.yaml"),
      `gateway: { spool: mqtt.spool }
mqtt: { url: "${broker.url}" }
tls: { cert: gateway.crt, key: gateway.key, ca: qn-ca.crt }
devices:${dev("plain", `{ tcp: { listen: "127.0.0.1:${ports.plain}" } }`)}${dev("tls", `{ tcp: { listen: "127.0.0.1:${ports.tls}", tls: true } }`)}
`,
    );
    gw = Gateway.fromFile(join(dir, "gateway.yaml"), { log: logger });
    await gw.start({ ops: false });
    sub = connect(broker.url, { clientId: "qn-takeover-sub", protocolVersion: 5 });
    sub.on("message", (topic) => got.set(topic, (got.get(topic) ?? 0) + 1));
    await new Promise<void>((r) => sub.once("connect", () => sub.subscribe("qn/#", { qos: 1 }, () => r())));
  }, 60000);

  afterAll(async () => {
    for (const p of peers) await p.close().catch(() => {});
    for (const s of sims) s.close();
    for (const t of hostile) await t.close().catch(() => {});
    for (const d of devices) await d.stop();
    await gw?.stop();
    sub?.end(true);
    await broker?.stop();
  });

  const downs = async (id: string) =>
    (await gw.metrics.linkDowns.get()).values.filter((v) => v.labels.device === id).reduce((a, v) => a + v.value, 0);

  /** Connect to `port` (TLS with `who`'s certificate when given): the
   *  connection, a promise of when the gateway closed it, and the reason
   *  the gateway logged for refusing it. */
  async function open(port: number, who?: string) {
    const t = await tcpConnect(`127.0.0.1:${port}`, who ? clientTls(dir, who) : undefined);
    hostile.push(t);
    const t0 = Date.now(),
      local = t.socket.localPort,
      from = lines.length;
    const closed = new Promise<number>((r) => t.onClose(() => r(Date.now() - t0)));
    // Only lines logged since this connection opened: an earlier one may
    // have used the same local port.
    const reason = () =>
      lines
        .slice(from)
        .find((l) => l.msg?.startsWith("connection refused before the handshake") && l.remote?.endsWith(`:${local}`))
        ?.err as string | undefined;
    return { t, closed, reason };
  }

  /** The hostile connections of the test, one after the other against
   *  `port`: how long the gateway took to close each, and why. */
  async function attack(port: number, who?: string): Promise<Record<string, { ms: number; why?: string }>> {
    const out: Record<string, { ms: number; why?: string }> = {};
    const ended = async (name: string, c: Awaited<ReturnType<typeof open>>) => {
      const ms = await Promise.race([c.closed, sleep(HANDSHAKE_MS + 5000).then(() => -1)]);
      await until(`${name}: reason logged`, () => !!c.reason(), 2000).catch(() => {});
      out[name] = { ms, why: c.reason() };
    };
    // Bytes that are not QN frames, in pieces with delimiters.
    const garbage = await open(port, who);
    await garbage.t.write(Uint8Array.from({ length: 1500 }, (_, i) => (i % 97 === 0 ? 0 : (i * 31) & 0xff)));
    await ended("garbage", garbage);
    // More bytes than a handshake needs.
    const flood = await open(port, who);
    await flood.t.write(new Uint8Array(CANDIDATE_BYTES + 1000).fill(0x41)).catch(() => {});
    await ended("flood", flood);
    // Connected, says nothing.
    await ended("silent", await open(port, who));
    // A device with another key answers our HELLO: its proof is wrong.
    const wrong = await open(port, who);
    sims.push(new SimDevice(wrong.t, { key: WRONG_KEY, auth: 2 }));
    await ended("wrongKeyDevice", wrong);
    // A client with another key sends a HELLO of its own.
    const hello = await open(port, who);
    const p = new Peer(hello.t, { session: { key: WRONG_KEY, auth: 2 } });
    peers.push(p);
    void p.connect(HANDSHAKE_MS * 3).catch(() => {});
    await ended("helloWrongKey", hello);
    // A burst of connects, each closed by its client at once.
    for (let i = 0; i < 40; i++) {
      const b = await open(port, who);
      await b.t.write(new Uint8Array([0, 1, 2, 0])).catch(() => {});
      await b.t.close();
    }
    return out;
  }

  for (const kind of ["plain", "tls"] as const) {
    it(`${kind === "tls" ? "TLS without peer_name" : "TCP"}: hostile connections leave the link up; a restarted device takes it over`, async () => {
      const port = ports[kind];
      const who = kind === "tls" ? "tls-dev" : undefined;
      const tlsOpts = who ? clientTls(dir, who) : undefined;
      const dev = await startDevice(gw, kind, port, join(dir, "k.hex"), 10000, tlsOpts);
      devices.push(dev);
      const link = gw.links.get(kind)!;
      const session = link.sessionId;
      const downsBefore = await downs(kind);

      // The device keeps publishing; the link's state and session are
      // sampled all along, and how many connections wait at once.
      let sent = 0,
        stop = false,
        lostUp = 0,
        maxConnecting = 0;
      const watch = (async () => {
        while (!stop) {
          if (dev.publish(1, 1)) sent++;
          if (link.state !== "up" || link.sessionId !== session) lostUp++;
          maxConnecting = Math.max(maxConnecting, link.status().connecting);
          await sleep(10);
        }
      })();
      // Over TLS the hostile side holds a certificate from the same CA.
      const closedAfter = await attack(port, kind === "tls" ? "other-dev" : undefined);
      stop = true;
      await watch;

      console.log(
        `takeover test (${kind}): ${sent} messages published during the attack; closed after (ms) ${JSON.stringify(closedAfter)}; at most ${maxConnecting} connections waiting`,
      );
      if (lostUp)
        console.log(
          lines
            .filter((l) => l.device === kind && l.level >= 30 && !/refused before the handshake/.test(l.msg))
            .map((l) => `${l.time} ${l.msg} ${l.err ?? ""} ${l.remote ?? ""}`)
            .join("\n"),
        );
      expect(lostUp, "samples with the link not up or another session").toBe(0);
      expect(link.state).toBe("up");
      expect(link.sessionId).toBe(session);
      expect(await downs(kind)).toBe(downsBefore);
      // Every hostile connection was closed by the gateway, for its own
      // reason, none later than its handshake time allows (with room for a
      // loaded machine).
      const why: Record<string, RegExp> = {
        garbage: /no handshake within/,
        flood: /bytes without completing the handshake/,
        silent: /no handshake within/,
        wrongKeyDevice: /proof does not match the device's key/,
        helloWrongKey: /no handshake within/,
      };
      for (const [k, r] of Object.entries(closedAfter)) {
        expect(r.ms, k).toBeGreaterThanOrEqual(0);
        expect(r.ms, k).toBeLessThan(HANDSHAKE_MS + 3000);
        expect(r.why, k).toMatch(why[k]);
      }
      expect(maxConnecting).toBeLessThanOrEqual(MAX_CANDIDATES);
      // The link moved every message published meanwhile.
      await until("messages of the attack at the broker", () => (got.get(`qn/${kind}/telemetry`) ?? 0) >= sent, 10000);

      // The device process restarts: its old connection stays open and
      // silent (half-open), the new process dials with the same flash, and
      // connections that say nothing hold every waiting place first.
      dev.halt();
      const holders = [];
      for (let i = 0; i < MAX_CANDIDATES; i++) holders.push(await open(port, kind === "tls" ? "other-dev" : undefined));
      const again = new TcpDevice(kind, `127.0.0.1:${port}`, readKey(join(dir, "k.hex")), tlsOpts);
      again.flash = dev.sim!.storage;
      devices.push(again);
      void again.run();
      await until(
        "restarted device's link up",
        () => again.up && link.state === "up" && link.sessionId !== session,
        10000,
      );
      expect(await downs(kind)).toBe(downsBefore + 1);
      // The oldest silent connection gave its place to the device's.
      expect(holders[0].reason()).toMatch(/a newer connection needs its place/);
      const at = got.get(`qn/${kind}/telemetry`) ?? 0;
      let more = 0;
      for (let i = 0; i < 20; i++) {
        if (again.publish(1, 1)) more++;
        await sleep(10);
      }
      await until(
        "messages of the restarted device at the broker",
        () => (got.get(`qn/${kind}/telemetry`) ?? 0) >= at + more,
        10000,
      );
      await dev.stop();
      await again.stop();
    }, 60000);
  }
});
