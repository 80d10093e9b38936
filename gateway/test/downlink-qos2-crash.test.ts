// A QoS 2 command and a gateway crash between its PUBREC and the broker's
// PUBREL, packet by packet against a fake broker (mqtt-packet on a local
// net.Server, so every step happens exactly when the test says):
//
//   broker -> PUBLISH (QoS 2, id 7)
//   broker <- PUBREC               the gateway "crashes" here: its files are
//                                  copied as they are at this instant, and a
//                                  new gateway starts on the copy
//   broker <- CONNECT (clean start off), -> CONNACK (session present)
//   broker -> PUBREL 7             what a broker resends for that session
//   device <- the command          ("down" event / the device's core)
//   broker <- PUBCOMP 7
//
// With mqtt.js's in-memory incomingStore the new gateway has no packet for
// PUBREL 7, answers PUBCOMP and the command is lost; with the file-backed
// store (gateway/incoming-store.ts) it is delivered, once.
import { describe, it, expect, afterEach } from "vitest";
import { mkdtempSync, cpSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { Bridge, type DownRoute } from "../bridge.ts";
import { Spool } from "../spool.ts";
import { createMetrics } from "../metrics.ts";
import { Gateway } from "../gateway.ts";
import {
  startDevice,
  type TcpDevice,
  FakeBroker,
  freePort,
  until,
  type Conn,
  type Version,
  writeDevKey,
} from "./helpers.ts";
import { QosStat } from "../../host/abi.ts";

const TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const silent = pino({ level: "silent" });

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const mqttCfg = (url: string, version: Version) => ({
  url,
  topic_prefix: "qn",
  queue_limit: 100,
  client_id: "qn-gw-crash-test",
  protocol_version: version,
});
const ROUTES = new Map<string, DownRoute>([["qn/dev1/cmd", { device: "dev1", channel: 9, qos: 2, prio: 0 }]]);

/** A Bridge on `<dir>/mqtt.spool` with every "down" event recorded. */
function bridgeOn(dir: string, url: string, version: Version) {
  const spool = new Spool(join(dir, "mqtt.spool"), silent);
  const bridge = new Bridge(mqttCfg(url, version), spool, silent, createMetrics());
  const down: { payload: string; topic: string; traceId?: string }[] = [];
  bridge.on("down", (_r: DownRoute, payload: Buffer, topic: string, parent: { traceId: string } | null) =>
    down.push({ payload: payload.toString(), topic, traceId: parent?.traceId }),
  );
  cleanup.push(async () => {
    await bridge.close();
    spool.close();
  });
  return { bridge, down };
}

const publish = (c: Conn, payload: string, version: Version) =>
  c.send({
    cmd: "publish",
    topic: "qn/dev1/cmd",
    payload,
    qos: 2,
    messageId: 7,
    retain: false,
    dup: false,
    ...(version === 5 ? { properties: { userProperties: { traceparent: TP } } } : {}),
  });

/** Run the first gateway up to its PUBREC for command `payload`; return a
 *  copy of its directory as it was when the broker read that PUBREC. */
async function crashAfterPubrec(
  broker: FakeBroker,
  version: Version,
  payload: string,
  first: (dir: string) => { bridge: Bridge; stop?: () => Promise<void> },
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "qn-crash-a-")),
    copy = mkdtempSync(join(tmpdir(), "qn-crash-b-"));
  const n = broker.conns.length;
  const a = first(dir);
  const c = await broker.conn(n);
  await until("first gateway connected", () => a.bridge.connected, 5000);
  c.onPacket = (p) => {
    if (p.cmd !== "pubrec") return;
    // The crash: what is on disk now is all the next gateway gets, and the
    // old one never says another word to the broker.
    cpSync(dir, copy, { recursive: true });
    a.bridge.client.end(true);
    c.sock.destroy();
  };
  publish(c, payload, version);
  expect((await c.next("pubrec")).messageId).toBe(7);
  await a.stop?.();
  return copy;
}

describe.each([5, 4] as const)(
  "a QoS 2 command across a gateway crash between PUBREC and PUBREL (MQTT %s)",
  (version) => {
    it("reaches the device side once when the broker releases it after the restart, then is forgotten", async () => {
      const broker = new FakeBroker(version);
      await broker.start();
      cleanup.push(() => broker.stop());
      const copy = await crashAfterPubrec(broker, version, "open-valve", (dir) => {
        const { bridge } = bridgeOn(dir, broker.url, version);
        bridge.setRoutes(ROUTES);
        return { bridge };
      });

      broker.onConnect = (c, p) => {
        expect(p.clean).toBe(false);
        c.connack(true);
        c.send({ cmd: "pubrel", messageId: 7 }); // right after CONNACK, as mosquitto does
      };
      const n = broker.conns.length;
      const { bridge, down } = bridgeOn(copy, broker.url, version);
      // Routes come only once the PUBREL is in (a gateway still starting its
      // links): nothing may be acknowledged, nor dropped, before.
      let pubrelSeen = false;
      bridge.client.on("packetreceive", (p) => {
        if (p.cmd === "pubrel") pubrelSeen = true;
      });
      const c = await broker.conn(n);
      await until("PUBREL at the new gateway", () => pubrelSeen, 5000);
      await new Promise((r) => setTimeout(r, 50));
      const early = { completed: c.got.some((p) => p.cmd === "pubcomp"), delivered: down.length };
      bridge.setRoutes(ROUTES);

      expect((await c.next("pubcomp")).messageId).toBe(7);
      // Without the file-backed store: completed at once, delivered never.
      expect({ early, down }).toEqual({
        early: { completed: false, delivered: 0 },
        down: [{ payload: "open-valve", topic: "qn/dev1/cmd", traceId: version === 5 ? TP.slice(3, 35) : undefined }],
      });
      // Released: gone from the file; a later start holds nothing.
      expect(statSync(join(copy, "mqtt.spool.incoming")).size).toBe(0);
      expect(bridge.incoming.packets()).toEqual([]);
      // A second PUBREL for it (e.g. our PUBCOMP lost) is completed, not delivered again.
      c.send({ cmd: "pubrel", messageId: 7 });
      expect((await c.next("pubcomp")).messageId).toBe(7);
      expect(down.length).toBe(1);
    });

    it("is delivered at once when the broker lost our session (its PUBREL will never come)", async () => {
      const broker = new FakeBroker(version);
      await broker.start();
      cleanup.push(() => broker.stop());
      const copy = await crashAfterPubrec(broker, version, "close-valve", (dir) => {
        const { bridge } = bridgeOn(dir, broker.url, version);
        bridge.setRoutes(ROUTES);
        return { bridge };
      });
      broker.onConnect = (c) => c.connack(false);
      const { bridge, down } = bridgeOn(copy, broker.url, version);
      bridge.setRoutes(ROUTES);
      await until("command delivered", () => down.length > 0, 5000);
      expect(down.map((d) => d.payload)).toEqual(["close-valve"]);
      expect(bridge.incoming.packets()).toEqual([]);
      expect(statSync(join(copy, "mqtt.spool.incoming")).size).toBe(0);
    });
  },
);

describe("the same crash with a whole gateway and an emulated device", () => {
  it("the device's core takes the command the broker released after the restart", async () => {
    const broker = new FakeBroker(5);
    await broker.start();
    cleanup.push(() => broker.stop());
    const devPort = await freePort();
    const writeConfig = (dir: string) => {
      writeDevKey(dir);
      writeFileSync(
        join(dir, "g.yaml"),
        `gateway: { spool: mqtt.spool }
mqtt: { url: "${broker.url}", client_id: qn-gw-crash-test }
devices:
  - id: dev1
    transport: { tcp: { listen: "127.0.0.1:${devPort}" } }
    key_file: k.hex
    journal: dev1.journal
    heartbeat_ms: 200
    heartbeat_misses: 10
    channels:
      - { channel: 9, topic: cmd, qos: 2, direction: down }
`,
      );
    };
    let dev: TcpDevice | undefined;
    cleanup.push(() => dev?.stop());
    const copy = await crashAfterPubrec(broker, 5, "set-speed-3", (dir) => {
      writeConfig(dir);
      const gw = Gateway.fromFile(join(dir, "g.yaml"), { log: silent });
      void gw.start({ ops: false });
      return { bridge: gw.bridge, stop: () => gw.stop() }; // frees the device port; what it writes now is not in the copy
    });
    broker.onConnect = (c) => {
      c.connack(true);
      c.send({ cmd: "pubrel", messageId: 7 });
    };
    const gw = Gateway.fromFile(join(copy, "g.yaml"), { log: silent });
    cleanup.push(() => gw.stop());
    await gw.start({ ops: false });
    dev = await startDevice(gw, "dev1", devPort, join(copy, "k.hex"), 15000);
    await until("the command at the device's core", () => dev!.sim!.core.qosStat(QosStat.Q2_ACCEPTED) === 1, 5000);
    const c = broker.conns[broker.conns.length - 1];
    expect((await c.next("pubcomp")).messageId).toBe(7);
  }, 30000);
});
