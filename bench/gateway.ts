// Issue 8 item 4 and issue 19 item 1: the gateway hop, QN vs mosquitto,
// one run, one machine.
//
// QN path:   DEVICES emulated devices (bench/gateway-path.ts) --TCP
//            loopback, one connection each--> the gateway (`qn gateway`,
//            its own process) --MQTT--> mosquitto --> one MQTT subscriber
//            in this process.
// Peer path: DEVICES mqtt.js publishers --> the same mosquitto --> one MQTT
//            subscriber in this process.
// Same broker process and config (gateway/test/helpers.ts: set_tcp_nodelay,
// max_inflight_messages 100, max_queued_messages 0, persistence on,
// 127.0.0.1 only), same QoS end to end, same 32-byte payload (float64
// send time + u32 sequence number + padding), MQTT 5 on every client (the
// gateway's default). Both publishers keep at most WINDOW messages
// outstanding end to end (published, not yet received by the subscriber);
// each measurement runs DURATION_MS, then waits for the tail to drain.
// msg/s = messages received / (last receive - first publish); latency is
// publish call -> subscriber callback (both ends in this process, one clock).
// CPU per message of each hop (gateway, mosquitto, this process) over the
// same measurement, from /proc (bench/proc-cpu.ts): the ratio gateway ÷
// broker is the goal (issue 19), and holds on a loaded machine because
// both come from the same phase. A thin load (THIN_DEVICES devices on the
// fleet listener of a gateway of their own, bench/fleet.ts, one message a
// second each) gives the CPU a message costs when little can be batched,
// against the saturated figure.
// mosquitto and the gateways are always stopped by their pids.
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connect, type MqttClient } from "mqtt";
import { ROOT } from "../host/status.ts";
import { Mosquitto, freePort, sleep } from "../gateway/test/helpers.ts";
import { machine, quantile, round } from "./lib.ts";
import { ThreadSample, ProcessSample, SelfSample, TICK_US, type HopCpu } from "./proc-cpu.ts";
import { FleetPath, QnPath, WORKERS } from "./gateway-path.ts";
import { gatewayTable, gatewayMarkdown } from "./gateway-table.ts";
import { FLEET_HEARTBEAT_MS } from "./fleet.ts";

const QUICK = process.argv.includes("--quick");
const DURATION_MS = QUICK ? 1000 : 3000;
const WARMUP_MS = QUICK ? 300 : 1000;
const DRAIN_MS = 5000;
const WINDOW = 200;
const DEVICES = 8;
const PAYLOAD = 32;
/** Thin load: this many devices on a fleet listener, each one message a second. */
const THIN_DEVICES = Number(process.env.QN_BENCH_THIN_DEVICES ?? 1000);
const THIN_MS = QUICK ? 3000 : 5000;
const THIN_IDLE_MS = QUICK ? 1500 : 3000;
const THIN_SETTLE_MS = 2000;
// The driver sleeps until something can have changed (a device received
// bytes, the subscriber got a message) instead of spinning: on 2 cores a
// spinning driver takes the CPU the gateway and the broker need.
let wakeUp: (() => void) | null = null;
function notify(): void {
  const w = wakeUp;
  wakeUp = null;
  w?.();
}
function progress(): Promise<void> {
  return new Promise<void>((r) => {
    const t = setTimeout(() => {
      wakeUp = null;
      r();
    }, 1);
    wakeUp = () => {
      clearTimeout(t);
      r();
    };
  });
}

/** CPU of each hop over one measurement, per message received. */
interface PhaseCpu {
  /** The gateway process (QN path only). */
  gateway?: HopCpu;
  /** mosquitto, the same broker process for both paths. */
  broker?: HopCpu;
  /** This process: the emulated devices or the mqtt.js publishers, and the subscriber. */
  generator?: HopCpu;
  /** gateway ÷ broker (QN path only). */
  ratio?: number;
}

interface Run {
  sent: number;
  received: number;
  lost: number;
  msg_per_s: number;
  p50_us: number;
  p99_us: number;
  max_us: number;
  duration_ms: number;
  cpu?: PhaseCpu;
}

/** Start sampling the CPU of the hops of a phase; the returned function
 *  closes the phase for `messages` received. */
function sampleHops(gatewayPid: number | undefined, brokerPid: number | undefined): (messages: number) => PhaseCpu {
  const gw = gatewayPid !== undefined ? new ThreadSample(gatewayPid) : undefined;
  const br = brokerPid !== undefined ? new ProcessSample(brokerPid) : undefined;
  const me = new SelfSample();
  return (messages) => {
    const out: PhaseCpu = { gateway: gw?.since(messages), broker: br?.since(messages), generator: me.since(messages) };
    if (out.gateway && out.broker?.us_per_msg) out.ratio = round(out.gateway.us_per_msg / out.broker.us_per_msg, 2);
    return out;
  };
}

/** Nagle off on our own clients' sockets (mosquitto has set_tcp_nodelay;
 *  mqtt.js leaves it on, which costs QoS 0 a 40 ms delayed-ACK stall). */
function noDelay(c: MqttClient): void {
  const on = () => (c as unknown as { stream?: { setNoDelay?: (b: boolean) => void } }).stream?.setNoDelay?.(true);
  on();
  c.on("connect", on);
}

/** A subscriber on `topic` at `qos`, counting and timing deliveries. */
type Subscriber = Awaited<ReturnType<typeof subscriber>>;

async function subscriber(url: string, topic: string, qos: 0 | 1 | 2) {
  const c = connect(url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
  noDelay(c);
  const s = { client: c, received: 0, lat: [] as number[], last: 0, counting: false };
  c.on("message", (_t, p) => {
    const now = performance.now();
    if (!s.counting) return;
    s.received++;
    s.last = now;
    notify();
    s.lat.push((now - p.readDoubleLE(0)) * 1000);
  });
  await new Promise<void>((res, rej) => {
    c.once("error", rej);
    c.once("connect", () => c.subscribe(topic, { qos }, (e) => (e ? rej(e) : res())));
  });
  return s;
}

function payload(seq: number): Buffer {
  const b = Buffer.alloc(PAYLOAD);
  b.writeDoubleLE(performance.now(), 0);
  b.writeUInt32LE(seq, 8);
  return b;
}

/** What the subscriber got since `t0`, for `sent` messages published. */
function result(sub: Subscriber, sent: number, t0: number, cpu?: PhaseCpu): Run {
  const lat = sub.lat.sort((a, b) => a - b);
  const dur = (sub.last || performance.now()) - t0;
  return {
    sent,
    received: sub.received,
    lost: sent - sub.received,
    msg_per_s: Math.round(sub.received / (dur / 1000)),
    p50_us: round(quantile(lat, 0.5)),
    p99_us: round(quantile(lat, 0.99)),
    max_us: round(lat[lat.length - 1] ?? NaN),
    duration_ms: round(dur),
    cpu,
  };
}

function startCounting(sub: Subscriber): void {
  sub.received = 0;
  sub.lat = [];
  sub.last = 0;
  sub.counting = true;
}

/** Wait (flushing) until every message sent arrived, or DRAIN_MS. */
async function drain(sub: Subscriber, sent: number, flush: () => void): Promise<void> {
  const d0 = performance.now();
  while (sub.received < sent && performance.now() - d0 < DRAIN_MS) {
    flush();
    await sleep(1);
  }
  sub.counting = false;
}

/** Drive `tryPublish` for `ms`, at most WINDOW outstanding, then drain;
 *  `hops` samples the CPU of the processes over the whole of it. */
async function drive(
  sub: Subscriber,
  tryPublish: (seq: number) => boolean,
  flush: () => void,
  ms: number,
  hops?: () => (messages: number) => PhaseCpu,
): Promise<Run> {
  startCounting(sub);
  const cpu = hops?.();
  let sent = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  let stallWindow = 0,
    stallPublisher = 0;
  while (performance.now() < end) {
    while (sent - sub.received < WINDOW && tryPublish(sent)) sent++;
    if (sent - sub.received >= WINDOW) stallWindow++;
    else stallPublisher++;
    flush();
    await progress();
  }
  if (process.env.QN_BENCH_DEBUG)
    console.error(
      `drive: ${sent} sent; loop turns stalled on the end-to-end window ${stallWindow}, on the publishers ${stallPublisher}`,
    );
  await drain(sub, sent, flush);
  return result(sub, sent, t0, cpu?.(sub.received));
}

/** Thin load: each device of `path` publishes one message a second, the
 *  devices spread evenly over the second, for THIN_MS. The gateway's CPU
 *  per message is given whole (its timers included) and as the marginal
 *  cost over its idle rate (`idleUsPerS`, the same devices, no traffic). */
async function thin(sub: Subscriber, path: FleetPath, qos: 0 | 1 | 2, idleUsPerS: number, brokerPid?: number) {
  startCounting(sub);
  const downs0 = path.downs();
  const cpu = sampleHops(path.gw?.pid, brokerPid);
  const t0 = performance.now();
  const next = Array.from({ length: path.n }, (_, i) => t0 + (i * 1000) / path.n);
  let sent = 0,
    refused = 0;
  while (performance.now() < t0 + THIN_MS) {
    const now = performance.now();
    for (let i = 0; i < path.n; i++)
      if (next[i] <= now) {
        next[i] += 1000;
        if (path.tryPublish(i, qos, payload(sent))) {
          sent++;
          path.flush(i);
        } else refused++;
      }
    await sleep(1);
  }
  await drain(sub, sent, () => {});
  const run = result(sub, sent, t0, cpu(sub.received));
  const g = run.cpu?.gateway;
  const wall_s = (performance.now() - t0) / 1000;
  const marginal = g && sub.received ? round(g.us_per_msg - (idleUsPerS * wall_s) / sub.received, 1) : undefined;
  return {
    ...run,
    devices: path.n,
    listener: "fleet",
    rate_per_device: 1,
    refused,
    /** Device sessions that went down during the phase (each redials). */
    link_downs: path.downs() - downs0,
    gateway_idle_us_per_s: idleUsPerS,
    gateway_marginal_us_per_msg: marginal,
    /** One /proc clock tick (10 ms) per message received: the figures'
     *  resolution, coarse when few messages are sent. */
    resolution_us_per_msg: sub.received ? round(TICK_US / sub.received, 1) : undefined,
  };
}

export type ThinRun = Awaited<ReturnType<typeof thin>>;

/** The gateway's CPU per second with its devices connected and silent. */
async function idleRate(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  const s = new ThreadSample(pid);
  const t0 = performance.now();
  await sleep(THIN_IDLE_MS);
  const c = s.since(1);
  return c ? round(c.us_per_msg / ((performance.now() - t0) / 1000)) : 0;
}

function keyOf(dir: string): Uint8Array {
  const keyHex = readFileSync(join(ROOT, "boards/dev-psk.hex"), "utf8");
  writeFileSync(join(dir, "k.hex"), keyHex);
  return Uint8Array.from(
    Buffer.from(
      keyHex
        .split("\n")
        .map((l) => l.replace(/#.*/, ""))
        .join("")
        .replace(/\s+/g, ""),
      "hex",
    ),
  );
}

export async function runGateway() {
  const dir = mkdtempSync(join(tmpdir(), "qn-bench-gw-"));
  const key = keyOf(dir);
  const broker = new Mosquitto(await freePort());
  // The saturated devices on the fleet listener, as a gateway serves a
  // fleet (QN_BENCH_SAT=devices: a listener and a journal file each).
  const sat =
    process.env.QN_BENCH_SAT === "devices" ? new QnPath(dir, key, DEVICES, "sat") : new FleetPath(dir, DEVICES, "sat");
  const thinPath = new FleetPath(dir, THIN_DEVICES, "thin");
  const pubs: MqttClient[] = [];
  const subs: MqttClient[] = [];
  const levels = (process.env.QN_BENCH_QOS ?? "0,1,2").split(",").map(Number) as (0 | 1 | 2)[];
  const thinLevels = levels.filter((q) => q > 0);
  try {
    await broker.start();
    const bpid = broker.proc?.pid;
    await sat.start(broker.url, notify);
    // Round robin over the devices; a device whose window is full is
    // skipped, and the publish fails only when every window is full.
    let next = 0;
    const devPublish = (qos: number) => (seq: number) => {
      for (let k = 0; k < sat.n; k++) {
        const i = next;
        next = (next + 1) % sat.n;
        if (sat.tryPublish(i, qos, payload(seq))) return true;
      }
      return false;
    };
    for (let i = 0; i < DEVICES; i++) {
      const c = connect(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
      noDelay(c);
      await new Promise<void>((r, j) => {
        c.once("connect", () => r());
        c.once("error", j);
      });
      pubs.push(c);
    }
    // mosquitto's publishers: QoS 1/2 count as sent when mqtt.js accepts
    // them (it holds them until the broker's inflight window has room).
    let nextPub = 0;
    const mqPublish = (qos: 0 | 1 | 2) => (seq: number) => {
      const c = pubs[nextPub];
      nextPub = (nextPub + 1) % pubs.length;
      c.publish(`bench/p${nextPub}/q${qos}`, payload(seq), { qos });
      return true;
    };
    const out: Record<string, { qn: Run; mosquitto: Run; ratio: number }> = {};
    const flushSat = () => sat.flush();
    for (const qos of levels) {
      const sq = await subscriber(broker.url, `qn/+/q${qos}`, qos);
      const sm = await subscriber(broker.url, `bench/+/q${qos}`, qos);
      subs.push(sq.client, sm.client);
      // Each level warmed up first: a gateway runs for months, so what its
      // JIT compiles in its first seconds is not a cost per message.
      await drive(sq, devPublish(qos), flushSat, WARMUP_MS);
      await drive(sm, mqPublish(qos), () => {}, WARMUP_MS);
      const qn = await drive(sq, devPublish(qos), flushSat, DURATION_MS, () => sampleHops(sat.gw?.pid, bpid));
      if (process.env.QN_BENCH_DEBUG) console.error(`QoS ${qos} CPU per message: ${JSON.stringify(qn.cpu)}`);
      const mosquitto = await drive(
        sm,
        mqPublish(qos),
        () => {},
        DURATION_MS,
        () => sampleHops(undefined, bpid),
      );
      out[`qos${qos}`] = { qn, mosquitto, ratio: round(qn.msg_per_s / mosquitto.msg_per_s, 2) };
      sq.client.end(true);
      sm.client.end(true);
    }
    await sat.stop();
    // The thin load, on a gateway of its own (idle devices would add their
    // timers to the saturated figures).
    const thinOut: Record<string, ThinRun> = {};
    if (thinLevels.length && THIN_DEVICES > 0) {
      await thinPath.start(broker.url);
      // The storm's handshakes (and the garbage they leave) are over before
      // the idle rate is taken.
      await sleep(THIN_SETTLE_MS);
      const idle = await idleRate(thinPath.gw?.pid);
      for (const qos of thinLevels) {
        const sq = await subscriber(broker.url, `qn/+/q${qos}`, qos);
        subs.push(sq.client);
        thinOut[`qos${qos}`] = await thin(sq, thinPath, qos, idle, bpid);
        sq.client.end(true);
      }
    }
    const ratioOf = (q: number) => out[`qos${q}`]?.qn.cpu?.ratio;
    return {
      machine: machine(),
      load_average: loadavg().map((x) => round(x, 2)),
      devices: DEVICES,
      saturated_listener: process.env.QN_BENCH_SAT === "devices" ? "a listener and a journal file per device" : "fleet",
      workers: WORKERS,
      window: WINDOW,
      mosquitto:
        "2.0.11 (apt), one instance for both paths: set_tcp_nodelay true, max_inflight_messages 100, max_queued_messages 0, persistence true (saved on exit / autosave, no per-message fsync), 127.0.0.1 only",
      method: `32-byte payload, ${DEVICES} publishers (QN: devices, each its own TCP connection, session and journal; mosquitto: mqtt.js clients), one subscriber per path (MQTT 5, clean session, subscribed at the same QoS to a wildcard), publishes round robin, at most ${WINDOW} messages outstanding end to end, ${DURATION_MS} ms per measurement after a ${WARMUP_MS} ms warm-up of the same path at the same QoS, then drained (up to ${DRAIN_MS} ms); msg/s = received / (last receive - first publish); latency = publish call to subscriber callback, same process clock. CPU per message = utime + stime from /proc over the measurement and its drain, divided by the messages received: the gateway (all its threads), mosquitto (the same process for both paths) and this process (the devices or the publishers, and the subscriber). QN: emulated devices (host/sim-device.ts core, auth mode 2, session + frame MACs + device journal, in-flight window 8 each, key ids of a registry) over TCP loopback to the gateway's fleet listener (own Node process, gateway.workers ${WORKERS}; QoS >= 1 spooled with fsync before the device is acknowledged, QoS 2 also in the device's fsync'd journal on the gateway (with one worker the fleet's journals share one pack file), group commit: one fsync per batch, always before the acknowledgement leaves) to mosquitto. mosquitto: mqtt.js publishers straight to the broker. Thin load: ${THIN_DEVICES} devices on the fleet listener of a gateway of their own (a registry of one profile, ${FLEET_HEARTBEAT_MS / 1000} s heartbeat, per-device keys and key ids, journals in one folder; the emulated devices on the bench process's one scheduler), 1 message a second each, spread over the second, ${THIN_MS} ms per QoS after ${THIN_IDLE_MS} ms idle with the same devices connected (once the ${THIN_SETTLE_MS} ms after their storm of handshakes are over).`,
      results: out,
      thin: thinOut,
      hop_goal: {
        goal: "gateway CPU per message <= 1.0x mosquitto's in the same phase at QoS 1 and 2 (first milestone 1.5x)",
        qos1: ratioOf(1),
        qos2: ratioOf(2),
        met: [1, 2].every((q) => (ratioOf(q) ?? Infinity) <= 1),
        milestone_met: [1, 2].every((q) => (ratioOf(q) ?? Infinity) <= 1.5),
      },
    };
  } finally {
    for (const c of subs) c.end(true);
    for (const c of pubs) c.end(true);
    await sat.stop();
    await thinPath.stop();
    await broker.stop();
    try {
      rmSync(dir, { recursive: true, force: true });
      rmSync(broker.dir, { recursive: true, force: true });
    } catch {
      /* */
    }
  }
}

export type GatewayResult = Awaited<ReturnType<typeof runGateway>>;

if (import.meta.url === `file://${process.argv[1]}`) {
  const g = await runGateway();
  const json = JSON.stringify(g, null, 2);
  console.log(json);
  if (!QUICK && !process.env.QN_BENCH_QOS) {
    writeFileSync("bench/gateway.json", json + "\n");
    writeFileSync("bench/GATEWAY.md", gatewayMarkdown(g).join("\n"));
  }
  console.error(gatewayTable(g).join("\n"));
  process.exit(0);
}
