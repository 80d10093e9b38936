// Issue 8 item 4: gateway throughput, QN vs mosquitto, one run, one machine.
//
// QN path:   DEVICES emulated devices (host/sim-device.ts: the firmware's
//            core, auth mode 2, real session, each its own journal and its
//            own in-flight window of 8) --TCP loopback, one connection
//            each--> the gateway (`qn gateway`, its own process) --MQTT-->
//            mosquitto --> one MQTT subscriber in this process.
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
// mosquitto and the gateway are always stopped by their pids.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connect, type MqttClient } from "mqtt";
import { SimDevice } from "../host/sim-device.ts";
import { tcpConnect, type TcpTransport } from "../host/transport/tcp.ts";
import { ROOT } from "../host/status.ts";
import { Mosquitto, freePort, sleep, until } from "../gateway/test/helpers.ts";
import { machine, quantile, round } from "./lib.ts";
import { Codec, Prio, type Qos } from "../host/abi.ts";

const QUICK = process.argv.includes("--quick");
const DURATION_MS = QUICK ? 1000 : 3000;
const WARMUP_MS = QUICK ? 300 : 1000;
const DRAIN_MS = 5000;
const WINDOW = 200;
const DEVICES = 8;
const PAYLOAD = 32;
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

interface Run {
  sent: number;
  received: number;
  lost: number;
  msg_per_s: number;
  p50_us: number;
  p99_us: number;
  max_us: number;
  duration_ms: number;
  gateway_cpu?: GatewayCpu;
}

/** CPU time of the gateway process during one QN measurement, per message
 *  received, split into its main thread (the event loop) and the rest
 *  (libuv's thread pool: the fdatasyncs; V8's helpers). A figure less
 *  noisy than msg/s on a shared machine: it says what a message costs,
 *  not how much CPU the other processes left. */
interface GatewayCpu {
  main_us_per_msg: number;
  other_us_per_msg: number;
  user_us_per_msg: number;
  sys_us_per_msg: number;
}

/** utime and stime (clock ticks) of each thread of `pid`, from /proc; null
 *  where there is no /proc (not Linux). */
function threadTimes(pid: number): Map<number, { user: number; sys: number }> | null {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  const out = new Map<number, { user: number; sys: number }>();
  for (const tid of tids) {
    try {
      // Fields after the ")" that closes the thread name: utime and stime are the 12th and 13th.
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8").split(") ")[1].split(" ");
      out.set(Number(tid), { user: Number(f[11]), sys: Number(f[12]) });
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return out;
}

const TICK_US = 1e6 / 100; // USER_HZ: 100 on Linux

function cpuSince(pid: number, before: ReturnType<typeof threadTimes>, messages: number): GatewayCpu | undefined {
  const after = threadTimes(pid);
  if (!before || !after || !messages) return undefined;
  let main = 0,
    other = 0,
    user = 0,
    sys = 0;
  for (const [tid, t] of after) {
    const b = before.get(tid) ?? { user: 0, sys: 0 };
    const u = t.user - b.user,
      s = t.sys - b.sys;
    user += u;
    sys += s;
    if (tid === pid) main += u + s;
    else other += u + s;
  }
  const per = (ticks: number) => round((ticks * TICK_US) / messages);
  return {
    main_us_per_msg: per(main),
    other_us_per_msg: per(other),
    user_us_per_msg: per(user),
    sys_us_per_msg: per(sys),
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

/** Drive `tryPublish` for `ms`, at most WINDOW outstanding, then drain. */
async function drive(
  sub: Awaited<ReturnType<typeof subscriber>>,
  tryPublish: (seq: number) => boolean,
  flush: () => void,
  ms: number,
): Promise<Run> {
  sub.received = 0;
  sub.lat = [];
  sub.last = 0;
  sub.counting = true;
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
  const d0 = performance.now();
  while (sub.received < sent && performance.now() - d0 < DRAIN_MS) {
    flush();
    await sleep(1);
  }
  sub.counting = false;
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
  };
}

/** The gateway as its own process (`qn gateway`), stopped by its pid. */
class GatewayProc {
  proc?: ChildProcess;
  stderr = "";
  constructor(readonly config: string) {}
  start(): void {
    this.proc = spawn(
      process.execPath,
      [
        ...(process.env.QN_BENCH_GW_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.QN_BENCH_GW_PROF}`] : []),
        "--import",
        "tsx",
        join(ROOT, "gateway/cli-qn.ts"),
        "gateway",
        "-c",
        this.config,
      ],
      { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] },
    );
    this.proc.stderr!.on("data", (b) => {
      this.stderr += b;
    });
  }
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return;
    const done = new Promise((r) => p.once("exit", r));
    process.kill(p.pid, "SIGTERM");
    const t = setTimeout(() => {
      try {
        process.kill(p.pid!, "SIGKILL");
      } catch {
        /* gone */
      }
    }, 3000);
    await done;
    clearTimeout(t);
  }
}

export async function runGateway() {
  const dir = mkdtempSync(join(tmpdir(), "qn-bench-gw-"));
  const keyHex = readFileSync(join(ROOT, "boards/dev-psk.hex"), "utf8");
  writeFileSync(join(dir, "k.hex"), keyHex);
  const key = Uint8Array.from(
    Buffer.from(
      keyHex
        .split("\n")
        .map((l) => l.replace(/#.*/, ""))
        .join("")
        .replace(/\s+/g, ""),
      "hex",
    ),
  );
  const ports = { broker: await freePort(), ops: await freePort() };
  const devPorts: number[] = [];
  for (let i = 0; i < DEVICES; i++) devPorts.push(await freePort());
  const broker = new Mosquitto(ports.broker);
  const cfg = join(dir, "gateway.yaml");
  writeFileSync(
    cfg,
    `gateway:
  ops: { listen: "127.0.0.1:${ports.ops}", token_file: ops.token }
  spool: mqtt.spool
  log_level: warn
mqtt:
  url: "mqtt://127.0.0.1:${ports.broker}"
  topic_prefix: qn
  queue_limit: 10000
  protocol_version: 5
devices:
${devPorts
  .map(
    (port, i) => `  - id: dev${i}
    transport: { tcp: { listen: "127.0.0.1:${port}" } }
    key_file: k.hex
    auth: 2
    journal: dev${i}.journal
    channels:
      - { channel: 1, topic: q0, qos: 0, direction: up }
      - { channel: 2, topic: q1, qos: 1, direction: up }
      - { channel: 3, topic: q2, qos: 2, direction: up }
`,
  )
  .join("")}`,
  );
  const gw = new GatewayProc(cfg);
  const sims: SimDevice[] = [],
    socks: TcpTransport[] = [],
    pubs: MqttClient[] = [];
  const subs: MqttClient[] = [];
  try {
    await broker.start();
    gw.start();
    // Each device dials the gateway (retry until it listens).
    const t1 = performance.now();
    for (const port of devPorts) {
      for (;;) {
        try {
          const t = await tcpConnect(`127.0.0.1:${port}`);
          t.onData(notify);
          socks.push(t);
          break;
        } catch {
          if (gw.proc?.exitCode !== null && gw.proc?.exitCode !== undefined)
            throw new Error(`gateway exited ${gw.proc.exitCode}: ${gw.stderr}`);
          if (performance.now() - t1 > 20000) throw new Error(`gateway did not listen: ${gw.stderr}`);
          await sleep(50);
        }
      }
      sims.push(new SimDevice(socks[socks.length - 1], { key, auth: 2 }));
    }
    for (const [i, d] of sims.entries())
      await until(`device ${i} session up (auth 2)`, () => d.core.sessionUp(), 20000);
    const flushDev = () => {
      for (const d of sims) (d as unknown as { step(b: Uint8Array): void }).step(new Uint8Array(0));
    };
    // Round robin over the devices; a device whose window is full is
    // skipped, and the publish fails only when every window is full.
    let next = 0;
    const devPublish = (qos: number) => (seq: number) => {
      for (let k = 0; k < sims.length; k++) {
        const d = sims[next];
        next = (next + 1) % sims.length;
        if (d.core.tryPublish(1 + qos, qos as Qos, Prio.BULK, Codec.NONE, payload(seq)) >= 0) return true;
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
    const levels = (process.env.QN_BENCH_QOS ?? "0,1,2").split(",").map(Number) as (0 | 1 | 2)[];
    for (const qos of levels) {
      const sq = await subscriber(broker.url, `qn/+/q${qos}`, qos);
      const sm = await subscriber(broker.url, `bench/+/q${qos}`, qos);
      subs.push(sq.client, sm.client);
      if (qos === 0) {
        await drive(sq, devPublish(0), flushDev, WARMUP_MS);
        await drive(sm, mqPublish(0), () => {}, WARMUP_MS);
      }
      const cpu0 = threadTimes(gw.proc!.pid!);
      const qn = await drive(sq, devPublish(qos), flushDev, DURATION_MS);
      qn.gateway_cpu = cpuSince(gw.proc!.pid!, cpu0, qn.received);
      if (process.env.QN_BENCH_DEBUG)
        console.error(`gateway CPU per QoS ${qos} message: ${JSON.stringify(qn.gateway_cpu)}`);
      const mosquitto = await drive(sm, mqPublish(qos), () => {}, DURATION_MS);
      out[`qos${qos}`] = { qn, mosquitto, ratio: round(qn.msg_per_s / mosquitto.msg_per_s, 2) };
      sq.client.end(true);
      sm.client.end(true);
    }
    return {
      machine: machine(),
      devices: DEVICES,
      window: WINDOW,
      mosquitto:
        "2.0.11 (apt), one instance for both paths: set_tcp_nodelay true, max_inflight_messages 100, max_queued_messages 0, persistence true (saved on exit / autosave, no per-message fsync), 127.0.0.1 only",
      method: `32-byte payload, ${DEVICES} publishers (QN: devices, each its own TCP connection, session and journal; mosquitto: mqtt.js clients), one subscriber per path (MQTT 5, clean session, subscribed at the same QoS to a wildcard), publishes round robin, at most ${WINDOW} messages outstanding end to end, ${DURATION_MS} ms per measurement after a ${WARMUP_MS} ms QoS 0 warm-up, then drained (up to ${DRAIN_MS} ms); msg/s = received / (last receive - first publish); latency = publish call to subscriber callback, same process clock. QN: emulated devices (host/sim-device.ts core, auth mode 2, session + frame MACs + device journal, in-flight window 8 each) over TCP loopback to the gateway (own Node process; QoS >= 1 spooled with fsync before the device is acknowledged, QoS 2 also in the device's fsync'd journal on the gateway, group commit: one fsync per batch, always before the acknowledgement leaves) to mosquitto. mosquitto: mqtt.js publishers straight to the broker.`,
      results: out,
      qos2_goal: { goal: "QN QoS2 >= 1x mosquitto QoS2", ratio: out.qos2?.ratio, met: (out.qos2?.ratio ?? 0) >= 1 },
    };
  } finally {
    for (const d of sims)
      try {
        d.close();
      } catch {
        /* */
      }
    for (const t of socks)
      try {
        await t.close();
      } catch {
        /* */
      }
    for (const c of subs) c.end(true);
    for (const c of pubs) c.end(true);
    await gw.stop();
    await broker.stop();
    try {
      rmSync(dir, { recursive: true, force: true });
      rmSync(broker.dir, { recursive: true, force: true });
    } catch {
      /* */
    }
  }
}

export function gatewayTable(g: Awaited<ReturnType<typeof runGateway>>): string[] {
  const f = (v: number) => v.toLocaleString("en-US");
  const L = [
    `| QoS | QN msg/s | QN p99 | mosquitto msg/s | mosquitto p99 | QN / mosquitto | lost (QN / mosq.) |`,
    `|---|---|---|---|---|---|---|`,
  ];
  for (const q of [0, 1, 2]) {
    const r = g.results[`qos${q}`];
    if (!r) continue;
    L.push(
      `| ${q} | ${f(r.qn.msg_per_s)} | ${f(r.qn.p99_us)} µs | ${f(r.mosquitto.msg_per_s)} | ${f(r.mosquitto.p99_us)} µs | ${r.ratio}× | ${r.qn.lost} / ${r.mosquitto.lost} |`,
    );
  }
  L.push(``, `Goal QN QoS 2 ≥ 1× mosquitto QoS 2: **${g.qos2_goal.met ? "met" : "missed"}** (${g.qos2_goal.ratio}×).`);
  return L;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const g = await runGateway();
  console.log(JSON.stringify(g, null, 2));
  console.error(gatewayTable(g).join("\n"));
  process.exit(0);
}
