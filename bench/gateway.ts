// Issue 8 item 4: gateway throughput, QN vs mosquitto, one run, one machine.
//
// QN path:   emulated device (host/sim-device.ts: the firmware's core, auth
//            mode 2, real session, its own journal) --TCP loopback--> the
//            gateway (`qn gateway`, its own process) --MQTT--> mosquitto
//            --> an MQTT subscriber in this process.
// Peer path: an mqtt.js publisher --> the same mosquitto --> an MQTT
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
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connect, type MqttClient } from "mqtt";
import { SimDevice } from "../host/sim-device.ts";
import { tcpConnect, type TcpTransport } from "../host/transport/tcp.ts";
import { ROOT } from "../host/status.ts";
import { Mosquitto, freePort, sleep, until } from "../gateway/test/helpers.ts";
import { machine, quantile, round } from "./lib.ts";

const QUICK = process.argv.includes("--quick");
const DURATION_MS = QUICK ? 1000 : 3000;
const WARMUP_MS = QUICK ? 300 : 1000;
const DRAIN_MS = 5000;
const WINDOW = 100;
const PAYLOAD = 32;
const yieldNow = () => new Promise<void>((r) => setImmediate(r));

interface Run { sent: number; received: number; lost: number; msg_per_s: number; p50_us: number; p99_us: number; max_us: number; duration_ms: number }

/** Nagle off on our own clients' sockets (mosquitto has set_tcp_nodelay;
 *  mqtt.js leaves it on, which costs QoS 0 a 40 ms delayed-ACK stall). */
function noDelay(c: MqttClient): void {
  const on = () => (c as unknown as { stream?: { setNoDelay?: (b: boolean) => void } }).stream?.setNoDelay?.(true);
  on(); c.on("connect", on);
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
async function drive(sub: Awaited<ReturnType<typeof subscriber>>, tryPublish: (seq: number) => boolean, flush: () => void, ms: number): Promise<Run> {
  sub.received = 0; sub.lat = []; sub.last = 0; sub.counting = true;
  let sent = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  while (performance.now() < end) {
    while (sent - sub.received < WINDOW && tryPublish(sent)) sent++;
    flush();
    await yieldNow();
  }
  const d0 = performance.now();
  while (sub.received < sent && performance.now() - d0 < DRAIN_MS) { flush(); await sleep(1); }
  sub.counting = false;
  const lat = sub.lat.sort((a, b) => a - b);
  const dur = (sub.last || performance.now()) - t0;
  return {
    sent, received: sub.received, lost: sent - sub.received, msg_per_s: Math.round(sub.received / (dur / 1000)),
    p50_us: round(quantile(lat, 0.5)), p99_us: round(quantile(lat, 0.99)), max_us: round(lat[lat.length - 1] ?? NaN), duration_ms: round(dur),
  };
}

/** The gateway as its own process (`qn gateway`), stopped by its pid. */
class GatewayProc {
  proc?: ChildProcess;
  stderr = "";
  constructor(readonly config: string) {}
  start(): void {
    this.proc = spawn(process.execPath, ["--import", "tsx", join(ROOT, "gateway/cli-qn.ts"), "gateway", "-c", this.config], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    this.proc.stderr!.on("data", (b) => { this.stderr += b; });
  }
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return;
    const done = new Promise((r) => p.once("exit", r));
    process.kill(p.pid, "SIGTERM");
    const t = setTimeout(() => { try { process.kill(p.pid!, "SIGKILL"); } catch { /* gone */ } }, 3000);
    await done;
    clearTimeout(t);
  }
}

export async function runGateway() {
  const dir = mkdtempSync(join(tmpdir(), "qn-bench-gw-"));
  const keyHex = readFileSync(join(ROOT, "boards/dev-psk.hex"), "utf8");
  writeFileSync(join(dir, "k.hex"), keyHex);
  const key = Uint8Array.from(Buffer.from(keyHex.split("\n").map((l) => l.replace(/#.*/, "")).join("").replace(/\s+/g, ""), "hex"));
  const ports = { broker: await freePort(), ops: await freePort(), dev: await freePort() };
  const broker = new Mosquitto(ports.broker);
  const cfg = join(dir, "gateway.yaml");
  writeFileSync(cfg, `gateway:
  ops: { listen: "127.0.0.1:${ports.ops}", token_file: ops.token }
  spool: mqtt.spool
  log_level: warn
mqtt:
  url: "mqtt://127.0.0.1:${ports.broker}"
  topic_prefix: qn
  queue_limit: 10000
  protocol_version: 5
devices:
  - id: bench
    transport: { tcp: { listen: "127.0.0.1:${ports.dev}" } }
    key_file: k.hex
    auth: 2
    journal: bench.journal
    channels:
      - { channel: 1, topic: q0, qos: 0, direction: up }
      - { channel: 2, topic: q1, qos: 1, direction: up }
      - { channel: 3, topic: q2, qos: 2, direction: up }
`);
  const gw = new GatewayProc(cfg);
  let sim: SimDevice | undefined, t: TcpTransport | undefined, pub: MqttClient | undefined;
  const subs: MqttClient[] = [];
  try {
    await broker.start();
    gw.start();
    // The device dials the gateway (retry until it listens).
    const t1 = performance.now();
    for (;;) {
      try { t = await tcpConnect(`127.0.0.1:${ports.dev}`); break; } catch {
        if (gw.proc?.exitCode !== null && gw.proc?.exitCode !== undefined) throw new Error(`gateway exited ${gw.proc.exitCode}: ${gw.stderr}`);
        if (performance.now() - t1 > 20000) throw new Error(`gateway did not listen: ${gw.stderr}`);
        await sleep(50);
      }
    }
    sim = new SimDevice(t, { key, auth: 2 });
    const dev = sim;
    const x = dev.core.x;
    await until("device session up (auth 2)", () => x.qn_session_stat(0) === 3n, 20000);
    const flushDev = () => (dev as unknown as { step(b: Uint8Array): void }).step(new Uint8Array(0));
    const devPublish = (qos: number) => (seq: number) => {
      dev.core.mem.set(payload(seq), x.qn_app_buf() + 24);
      return Number(x.qn_publish(1 + qos, qos, 2, 0, PAYLOAD)) >= 0;
    };
    pub = connect(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
    noDelay(pub);
    await new Promise<void>((r, j) => { pub!.once("connect", () => r()); pub!.once("error", j); });
    const mq = pub;
    // mosquitto's publisher: QoS 1/2 count as sent when mqtt.js accepts them
    // (it holds them until the broker's inflight window has room).
    const mqPublish = (qos: 0 | 1 | 2) => (seq: number) => { mq.publish(`bench/q${qos}`, payload(seq), { qos }); return true; };
    const out: Record<string, { qn: Run; mosquitto: Run; ratio: number }> = {};
    for (const qos of [0, 1, 2] as const) {
      const sq = await subscriber(broker.url, `qn/bench/q${qos}`, qos);
      const sm = await subscriber(broker.url, `bench/q${qos}`, qos);
      subs.push(sq.client, sm.client);
      if (qos === 0) { await drive(sq, devPublish(0), flushDev, WARMUP_MS); await drive(sm, mqPublish(0), () => {}, WARMUP_MS); }
      const qn = await drive(sq, devPublish(qos), flushDev, DURATION_MS);
      const mosquitto = await drive(sm, mqPublish(qos), () => {}, DURATION_MS);
      out[`qos${qos}`] = { qn, mosquitto, ratio: round(qn.msg_per_s / mosquitto.msg_per_s, 2) };
      sq.client.end(true); sm.client.end(true);
    }
    return {
      machine: machine(),
      mosquitto: "2.0.11 (apt), one instance for both paths: set_tcp_nodelay true, max_inflight_messages 100, max_queued_messages 0, persistence true (saved on exit / autosave, no per-message fsync), 127.0.0.1 only",
      method: `32-byte payload, one publisher, one subscriber (MQTT 5, clean session, subscribed at the same QoS), at most ${WINDOW} messages outstanding end to end, ${DURATION_MS} ms per measurement after a ${WARMUP_MS} ms QoS 0 warm-up, then drained (up to ${DRAIN_MS} ms); msg/s = received / (last receive - first publish); latency = publish call to subscriber callback, same process clock. QN: emulated device (host/sim-device.ts core, auth mode 2, session + frame MACs + device journal) over TCP loopback to the gateway (own Node process; QoS >= 1 spooled with fsync before the device is acknowledged, QoS 2 also in the gateway's fsync'd journal) to mosquitto. mosquitto: mqtt.js publisher straight to the broker.`,
      results: out,
      qos2_goal: { goal: "QN QoS2 >= 1x mosquitto QoS2", ratio: out.qos2.ratio, met: out.qos2.ratio >= 1 },
    };
  } finally {
    try { sim?.close(); } catch { /* */ }
    try { await t?.close(); } catch { /* */ }
    for (const c of subs) c.end(true);
    pub?.end(true);
    await gw.stop();
    await broker.stop();
    try { rmSync(dir, { recursive: true, force: true }); rmSync(broker.dir, { recursive: true, force: true }); } catch { /* */ }
  }
}

export function gatewayTable(g: Awaited<ReturnType<typeof runGateway>>): string[] {
  const f = (v: number) => v.toLocaleString("en-US");
  const L = [`| QoS | QN msg/s | QN p99 | mosquitto msg/s | mosquitto p99 | QN / mosquitto | lost (QN / mosq.) |`, `|---|---|---|---|---|---|---|`];
  for (const q of [0, 1, 2]) {
    const r = g.results[`qos${q}`];
    L.push(`| ${q} | ${f(r.qn.msg_per_s)} | ${f(r.qn.p99_us)} µs | ${f(r.mosquitto.msg_per_s)} | ${f(r.mosquitto.p99_us)} µs | ${r.ratio}× | ${r.qn.lost} / ${r.mosquitto.lost} |`);
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
