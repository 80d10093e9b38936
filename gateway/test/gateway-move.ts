// Two gateway processes for one fleet behind one mosquitto, and a device
// that moves from the gateway holding it to the other one when that one is
// killed (SIGKILL: no clean shutdown) in the middle of a QoS 1 and QoS 2
// stream. Shared by multi-gateway.test.ts (the device keeps a list of the
// gateways) and haproxy.test.ts (the device dials HAProxy in front of
// them); how the device reaches a gateway and how a test tells which one
// holds it are theirs. At the subscriber: nothing the device had
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
// ids it has seen gets every message exactly once; the scenario does that
// too.
//
// Every process started here is stopped by its pid on every exit path
// (stop(), from the test's afterAll).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { connect, type MqttClient } from "mqtt";
import { ROOT } from "../../host/status.ts";
import { readKey } from "../../selftest/targets.ts";
import { QosStat } from "../../host/abi.ts";
import { Mosquitto, freePort, portOpen, sleep, stopByPid, until, writeDevKey, writeRegistry } from "./helpers.ts";
import { RoamingDevice } from "./roaming-device.ts";
import { MESSAGE_ID_PROPERTY } from "../message-id.ts";

/** Messages published before the holding gateway is killed, and after the
 *  device is up on the other one. */
const BEFORE = 300;
const AFTER = 300;
/** Generous bound on every wait of the scenario (a loaded 2-core machine). */
const WAIT_MS = 60000;
const DEVICE = "dev1";
/** The device's key id in the fleet registry. */
const KEY_ID = 1;
const CHANNELS = [
  { channel: 1, topic: "telemetry", qos: 1, direction: "up" },
  { channel: 2, topic: "events", qos: 2, direction: "up" },
];
/** A device down is noticed within a second. */
const SESSION = { heartbeat_ms: 200, heartbeat_misses: 5 };

/** How a gateway takes the device: a listener of the device's own
 *  (devices: section), or the fleet listener with the device in the
 *  registry (fleet: section), the one port a load balancer forwards to. */
export type Listener = "device" | "fleet";

/** One `qn gateway` process with its own spool, journals, ops port and
 *  device port, all in a temporary folder of its own. */
export class TestGateway {
  proc?: ChildProcess;
  stderr = "";
  readonly config: string;
  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly devPort: number,
    private readonly opsPort: number,
  ) {
    this.config = join(dir, "gateway.yaml");
  }

  static async make(name: string, brokerUrl: string, listener: Listener): Promise<TestGateway> {
    const g = new TestGateway(name, mkdtempSync(join(tmpdir(), `qn-gw-${name}-`)), await freePort(), await freePort());
    const key = writeDevKey(g.dir);
    const head = `gateway:
  ops: { listen: "127.0.0.1:${g.opsPort}", token_file: ${join(g.dir, "ops.token")} }
  spool: ${join(g.dir, "mqtt.spool")}
  log_level: info
mqtt:
  url: "${brokerUrl}"
  topic_prefix: qn
  client_id: qn-gateway-${name}
  queue_limit: 5000
`;
    const channels = CHANNELS.map((c) => `      - ${JSON.stringify(c)}\n`).join("");
    if (listener === "device") {
      writeFileSync(
        g.config,
        `${head}devices:
  - id: ${DEVICE}
    transport: { tcp: { listen: "127.0.0.1:${g.devPort}" } }
    key_file: ${key}
    journal: ${join(g.dir, `${DEVICE}.journal`)}
    heartbeat_ms: ${SESSION.heartbeat_ms}
    heartbeat_misses: ${SESSION.heartbeat_misses}
    channels:
${channels}`,
      );
    } else {
      const registry = join(g.dir, "devices.qnr");
      const records = [
        { profile: "movers", ...SESSION, channels: CHANNELS },
        { device: DEVICE, key_id: KEY_ID, key: Buffer.from(readKey(key)).toString("hex"), profile: "movers" },
      ];
      writeRegistry(registry, records);
      writeFileSync(
        g.config,
        `${head}fleet: { listen: "127.0.0.1:${g.devPort}", registry: ${registry}, journals: ${join(g.dir, "journals")} }\n`,
      );
    }
    return g;
  }

  start(): void {
    const p = spawn(join(ROOT, "qn"), ["gateway", "--config", this.config], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = p;
    const keep = (b: Buffer) => {
      this.stderr = (this.stderr + b.toString()).slice(-6000);
    };
    p.stdout!.on("data", keep);
    p.stderr!.on("data", keep);
  }

  /** Killed by its pid, with no clean shutdown; resolves once it exited. */
  kill(): Promise<void> {
    return stopByPid(this.proc, "SIGKILL");
  }

  /** The device links whose session is up, from the ops API's /health;
   *  0 when the gateway does not answer. */
  async devicesUp(): Promise<number> {
    try {
      const token = readFileSync(join(this.dir, "ops.token"), "utf8").trim();
      const r = await fetch(`http://127.0.0.1:${this.opsPort}/health`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(5000),
      });
      return r.ok ? ((await r.json()) as { devices_up: number }).devices_up : 0;
    } catch {
      return 0;
    }
  }
}

interface Got {
  payload: string;
  id?: string;
}

/** Waits a test adds to the move, each given the gateway concerned. */
export interface MoveHooks {
  /** After the holding gateway was killed. */
  killed?: (g: TestGateway) => Promise<void>;
  /** After the killed gateway was started again on its files. */
  restarted?: (g: TestGateway) => Promise<void>;
}

export class MoveScenario {
  broker?: Mosquitto;
  sub?: MqttClient;
  dev?: RoamingDevice;
  readonly gws: TestGateway[] = [];
  /** What the subscriber got, in order. */
  private readonly got: Got[] = [];

  constructor(
    private readonly label: string,
    private readonly listener: Listener,
  ) {}

  /** mosquitto, a subscriber on every device topic, and two gateways
   *  started and listening on their device ports. */
  async start(): Promise<void> {
    const broker = new Mosquitto(await freePort());
    this.broker = broker;
    await broker.start();
    for (const name of ["a", "b"]) this.gws.push(await TestGateway.make(name, broker.url, this.listener));
    const s = connect(broker.url, { clientId: `qn-${this.label}-sub`, protocolVersion: 5, reconnectPeriod: 200 });
    this.sub = s;
    s.on("message", (_topic, payload, packet) => {
      const id = packet.properties?.userProperties?.[MESSAGE_ID_PROPERTY];
      this.got.push({ payload: payload.toString(), id: Array.isArray(id) ? id[0] : id });
    });
    await new Promise<void>((r) => s.once("connect", () => s.subscribe("qn/#", { qos: 2 }, () => r())));
    for (const g of this.gws) g.start();
    for (const g of this.gws)
      await until(
        `gateway ${g.name} listening`,
        () => {
          if (g.proc!.exitCode !== null) throw new Error(`gateway ${g.name} exited with ${g.proc!.exitCode}`);
          return portOpen(g.devPort);
        },
        WAIT_MS,
      ).catch((e) => {
        throw new Error(`${(e as Error).message}\n${g.stderr}`);
      });
  }

  /** The device, dialing `addresses` in turn (it moves on to the next one
   *  when its connection ends). */
  device(addresses: string[]): RoamingDevice {
    const d = new RoamingDevice(DEVICE, addresses, readKey(join(this.gws[0].dir, "k.hex")), {
      keyId: this.listener === "fleet" ? KEY_ID : undefined,
    });
    this.dev = d;
    void d.run();
    return d;
  }

  /** Every gateway's recent output, for a failure's message. */
  why(): string {
    return this.gws.map((g) => `${g.name}: ${g.stderr}`).join("\n");
  }

  /** The move and its checks. `holder` tells which gateway (index in
   *  `gws`) holds the device's session, undefined while none does. The
   *  gateway killed and the one the device moved to. */
  async moveMidStream(
    holder: () => Promise<number | undefined>,
    hooks: MoveHooks = {},
  ): Promise<{ from: TestGateway; to: TestGateway }> {
    const d = this.dev!;
    const got = this.got;
    let first: number | undefined;
    await until("the device up on a gateway", async () => (first = await holder()) !== undefined, WAIT_MS).catch(
      (e) => {
        throw new Error(`${(e as Error).message}\n${this.why()}`);
      },
    );
    const a = this.gws[first!];

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
          const payload = `${DEVICE}:${qos}:${n}`;
          if (d.publish(qos, qos, Buffer.from(payload)) > 0) {
            accepted.push(payload);
            n++;
          }
        }
        await sleep(2);
      }
    })();

    try {
      await until(`messages through gateway ${a.name}`, () => got.length >= BEFORE, WAIT_MS);
      // Killed with messages in flight: no clean shutdown, no FIN first.
      await a.kill();
      const atKill = accepted.length;
      const released = d.sim!.core.qosStat(QosStat.Q2_RELEASED);
      await hooks.killed?.(a);
      let second: number | undefined;
      await until(
        "the device up on the other gateway",
        async () => (second = await holder()) !== undefined && second !== first,
        WAIT_MS,
      ).catch((e) => {
        throw new Error(`${(e as Error).message}\n${this.why()}`);
      });
      const movedAt = accepted.length;
      await until("messages through the other gateway", () => accepted.length >= movedAt + AFTER, WAIT_MS).catch(
        (e) => {
          const c = d.sim!.core;
          throw new Error(
            `${(e as Error).message}: accepted ${accepted.length} moved at ${movedAt} up ${d.up} connects ${d.connects} in flight ${c.qosStat(QosStat.IN_FLIGHT)} q1 next ${c.qosStat(QosStat.Q1_NEXT)} q2 next ${c.qosStat(QosStat.Q2_NEXT)}\n${this.why()}`,
          );
        },
      );
      producing = false;
      await producer;

      const payloads = () => new Set(got.map((g) => g.payload));
      // Everything published after the kill went to the other gateway only.
      await until(
        "the other gateway's messages at the subscriber",
        () => {
          const p = payloads();
          return accepted.slice(atKill).every((m) => p.has(m));
        },
        WAIT_MS,
      );
      await until("the device's window empty", () => d.sim!.core.qosStat(QosStat.IN_FLIGHT) === 0, WAIT_MS);
      const onlyInDeadSpool = accepted.filter((m) => !payloads().has(m)).length;

      // The killed gateway starts again on its own spool: what it had
      // acknowledged to the device and not handed to the broker goes out now.
      a.start();
      await hooks.restarted?.(a);
      await until(
        "every accepted message at the subscriber",
        () => {
          const p = payloads();
          return accepted.every((m) => p.has(m));
        },
        WAIT_MS,
      ).catch((e) => {
        const p = payloads();
        throw new Error(
          `${(e as Error).message}: missing ${accepted.filter((m) => !p.has(m)).slice(0, 10)}\n${this.why()}`,
        );
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
      const dup = (q: string) => got.filter((g) => g.payload.startsWith(`${DEVICE}:${q}:`)).length;
      const uniq = (q: string) => [...idsOf.keys()].filter((p) => p.startsWith(`${DEVICE}:${q}:`)).length;
      console.log(
        `${this.label}: ${accepted.length} messages accepted by the device (${atKill} before gateway ${a.name} was killed, QoS 2 released up to packet ${released}), ` +
          `${got.length} received, duplicates QoS 1 ${dup("1") - uniq("1")} QoS 2 ${dup("2") - uniq("2")}, ` +
          `held only in the killed gateway's spool until it restarted ${onlyInDeadSpool}, lost ${lost}, after dedup by id ${deduped.length}`,
      );
      expect(lost).toBe(0);
      expect(deduped.map((g) => g.payload).sort()).toEqual([...accepted].sort());
      expect(d.connects).toBeGreaterThanOrEqual(2);
      return { from: a, to: this.gws[second!] };
    } finally {
      producing = false;
      await producer;
    }
  }

  /** Everything stopped by its pid, whatever state the test left it in. */
  async stop(): Promise<void> {
    await this.dev?.stop();
    for (const g of this.gws) await g.kill();
    this.sub?.end(true);
    await this.broker?.stop();
  }
}
