// Two gateway processes for one fleet behind one mosquitto, and a device
// with a device-side list of both that moves from the first to the second
// when the first is killed (SIGKILL: no clean shutdown) in the middle of a
// QoS 1 and QoS 2 stream. At the subscriber: nothing the device had
// acknowledged is lost, and every duplicate carries the message id of its
// original (the qn-msg-id user property, gateway/message-id.ts).
//
// Exactly-once does not hold across gateways: the QoS 2 state that would
// suppress a resend (the receiver's high-water mark and the spool) lives in
// the dead gateway's journal and spool, which the second gateway does not
// have. A message the first gateway spooled (and maybe published) whose
// PUBREC / PUBACK the device never got is sent again to the second one,
// and the first one's spool, replayed when it starts again, publishes what
// it acknowledged but had not handed to the broker when it died (without
// that restart those messages stay in its spool only). So the subscriber
// sees such messages twice, with the same id, and a consumer that drops
// ids it has seen gets every message exactly once; the test does that too.
//
// Every process started here is stopped by its pid on every exit path.
import { describe, it, expect, afterAll } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { connect as netConnect } from "node:net";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type MqttClient } from "mqtt";
import { ROOT } from "../../host/status.ts";
import { readKey } from "../../selftest/targets.ts";
import { QosStat } from "../../host/abi.ts";
import { Mosquitto, freePort, sleep, until, writeDevKey } from "./helpers.ts";
import { RoamingDevice } from "./roaming-device.ts";
import { MESSAGE_ID_PROPERTY } from "../message-id.ts";

/** Messages published before the first gateway is killed, and after the
 *  device is up on the second. */
const BEFORE = 300;
const AFTER = 300;

interface Gw {
  name: string;
  config: string;
  devPort: number;
  proc?: ChildProcess;
  stderr: string;
}

function configText(dir: string, name: string, broker: string, opsPort: number, devPort: number): string {
  return `gateway:
  ops: { listen: "127.0.0.1:${opsPort}", token_file: ${join(dir, "ops.token")} }
  spool: ${join(dir, "mqtt.spool")}
  log_level: info
mqtt:
  url: "${broker}"
  topic_prefix: qn
  client_id: qn-gateway-${name}
  queue_limit: 5000
devices:
  - id: dev1
    transport: { tcp: { listen: "127.0.0.1:${devPort}" } }
    key_file: ${join(dir, "k.hex")}
    journal: ${join(dir, "dev1.journal")}
    heartbeat_ms: 200
    heartbeat_misses: 5
    channels:
      - { channel: 1, topic: telemetry, qos: 1, direction: up }
      - { channel: 2, topic: events, qos: 2, direction: up }
`;
}

function start(g: Gw): void {
  g.proc = spawn(join(ROOT, "qn"), ["gateway", "--config", g.config], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const keep = (b: Buffer) => {
    g.stderr = (g.stderr + b.toString()).slice(-6000);
  };
  g.proc.stdout!.on("data", keep);
  g.proc.stderr!.on("data", keep);
}

function kill(g: Gw, signal: NodeJS.Signals): Promise<void> {
  const c = g.proc;
  return new Promise((r) => {
    if (!c || c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return r();
    c.once("exit", () => r());
    process.kill(c.pid, signal);
  });
}

interface Got {
  payload: string;
  id?: string;
}

describe("two gateways, one broker, a device moving between them", () => {
  const gws: Gw[] = [];
  let broker: Mosquitto | undefined;
  let sub: MqttClient | undefined;
  let dev: RoamingDevice | undefined;

  afterAll(async () => {
    await dev?.stop();
    for (const g of gws) await kill(g, "SIGKILL");
    sub?.end(true);
    await broker?.stop();
  });

  it("loses nothing acknowledged when the device's gateway is killed mid-stream, and every duplicate has its original's id", async () => {
    broker = new Mosquitto(await freePort());
    await broker.start();
    let keyFile = "";
    for (const name of ["a", "b"]) {
      const dir = mkdtempSync(join(tmpdir(), `qn-multigw-${name}-`));
      keyFile = writeDevKey(dir);
      const devPort = await freePort();
      const config = join(dir, "gateway.yaml");
      writeFileSync(config, configText(dir, name, broker.url, await freePort(), devPort));
      gws.push({ name, config, devPort, stderr: "" });
    }
    const [a] = gws;
    const got: Got[] = [];
    const s = connect(broker.url, { clientId: "qn-multigw-sub", protocolVersion: 5, reconnectPeriod: 200 });
    sub = s;
    s.on("message", (_topic, payload, packet) => {
      const id = packet.properties?.userProperties?.[MESSAGE_ID_PROPERTY];
      got.push({ payload: payload.toString(), id: Array.isArray(id) ? id[0] : id });
    });
    await new Promise<void>((r) => s.once("connect", () => s.subscribe("qn/#", { qos: 2 }, () => r())));
    const listening = new Set<number>();
    const probe = setInterval(() => {
      for (const g of gws) {
        const c = netConnect(g.devPort, "127.0.0.1");
        c.once("connect", () => {
          listening.add(g.devPort);
          c.destroy();
        });
        c.once("error", () => c.destroy());
      }
    }, 200);
    for (const g of gws) start(g);
    // Both listening before the device dials its list, so it starts on the first.
    for (const g of gws)
      await until(`gateway ${g.name} listening`, () => listening.has(g.devPort), 60000).catch((e) => {
        throw new Error(`${(e as Error).message}\n${g.stderr}`);
      });

    clearInterval(probe);
    const d = new RoamingDevice(
      "dev1",
      gws.map((g) => `127.0.0.1:${g.devPort}`),
      readKey(keyFile),
    );
    dev = d;
    void d.run();
    const why = () => gws.map((g) => `${g.name}: ${g.stderr}`).join("\n");
    await until("the device up on the first gateway", () => d.up && d.at === 0, 60000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${why()}`);
    });

    // The device's application: QoS 1 on channel 1 and QoS 2 on channel 2
    // in turn, each message numbered; `accepted` are those its core took
    // (the core keeps them, in RAM or journal, until acknowledged).
    const accepted: string[] = [];
    let producing = true;
    let n = 0;
    const producer = (async () => {
      while (producing) {
        for (let i = 0; i < 8; i++) {
          const qos = n % 2 === 0 ? 1 : 2;
          const payload = `dev1:${qos}:${n}`;
          if (d.publish(qos, qos, Buffer.from(payload)) > 0) {
            accepted.push(payload);
            n++;
          }
        }
        await sleep(2);
      }
    })();

    try {
      await until("messages through the first gateway", () => got.length >= BEFORE, 60000);
      // Killed with messages in flight: no clean shutdown, no FIN first.
      await kill(a, "SIGKILL");
      const atKill = accepted.length;
      const released = d.sim!.core.qosStat(QosStat.Q2_RELEASED);
      await until("the device up on the second gateway", () => d.up && d.at === 1, 60000);
      const movedAt = accepted.length;
      await until("messages through the second gateway", () => accepted.length >= movedAt + AFTER, 60000).catch((e) => {
        const c = d.sim!.core;
        throw new Error(
          `${(e as Error).message}: accepted ${accepted.length} moved at ${movedAt} up ${d.up} at ${d.at} connects ${d.connects} in flight ${c.qosStat(QosStat.IN_FLIGHT)} q1 next ${c.qosStat(QosStat.Q1_NEXT)} q2 next ${c.qosStat(QosStat.Q2_NEXT)}\n${why()}`,
        );
      });
      producing = false;
      await producer;

      const payloads = () => new Set(got.map((g) => g.payload));
      // Everything published after the kill went to the second gateway only.
      await until(
        "the second gateway's messages at the subscriber",
        () => {
          const p = payloads();
          return accepted.slice(atKill).every((m) => p.has(m));
        },
        60000,
      );
      await until("the device's window empty", () => d.sim!.core.qosStat(QosStat.IN_FLIGHT) === 0, 30000);
      const onlyInDeadSpool = accepted.filter((m) => !payloads().has(m)).length;

      // The first gateway starts again on its own spool: what it had
      // acknowledged to the device and not handed to the broker goes out now.
      start(a);
      await until(
        "every accepted message at the subscriber",
        () => {
          const p = payloads();
          return accepted.every((m) => p.has(m));
        },
        60000,
      ).catch((e) => {
        const p = payloads();
        throw new Error(`${(e as Error).message}: missing ${accepted.filter((m) => !p.has(m)).slice(0, 10)}\n${why()}`);
      });

      // Every message has an id; copies of one message share it; distinct
      // messages never do.
      const idsOf = new Map<string, Set<string>>();
      const payloadOf = new Map<string, string>();
      for (const g of got) {
        expect(g.id, `${g.payload} has no ${MESSAGE_ID_PROPERTY}`).toBeTruthy();
        if (!idsOf.has(g.payload)) idsOf.set(g.payload, new Set());
        idsOf.get(g.payload)!.add(g.id!);
        expect(payloadOf.get(g.id!) ?? g.payload).toBe(g.payload);
        payloadOf.set(g.id!, g.payload);
      }
      for (const [p, ids] of idsOf) expect([...ids], p).toHaveLength(1);
      // A consumer dropping ids it has seen gets each message once.
      const seen = new Set<string>();
      const deduped = got.filter((g) => !seen.has(g.id!) && seen.add(g.id!));
      const lost = accepted.filter((m) => !idsOf.has(m)).length;
      const dup = (q: string) => got.filter((g) => g.payload.startsWith(`dev1:${q}:`)).length;
      const uniq = (q: string) => [...idsOf.keys()].filter((p) => p.startsWith(`dev1:${q}:`)).length;
      console.log(
        `multi-gateway: ${accepted.length} messages accepted by the device (${atKill} before the kill, QoS 2 released up to packet ${released}), ` +
          `${got.length} received, duplicates QoS 1 ${dup("1") - uniq("1")} QoS 2 ${dup("2") - uniq("2")}, ` +
          `held only in the killed gateway's spool until it restarted ${onlyInDeadSpool}, lost ${lost}, after dedup by id ${deduped.length}`,
      );
      expect(lost).toBe(0);
      expect(deduped.map((g) => g.payload).sort()).toEqual([...accepted].sort());
      expect(d.connects).toBeGreaterThanOrEqual(2);
    } finally {
      producing = false;
      await producer;
    }
  }, 300000);
});
