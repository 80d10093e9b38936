// Issue 18: one gateway process with N devices on its fleet listener.
//
// The gateway runs as its own process (`qn gateway`, fleet: section, a
// registry of N devices on one profile, auth mode 2). The N emulated
// devices (bench/fleet.ts) run in this process; they connect in a storm
// (all started within STORM_S) and redial when their connection closes.
// mosquitto is the broker. Per N:
//   bring-up   first dial -> every device's session up (device side)
//   handshake  dial -> session up, per device (the pooled proof, then the
//              link's own handshake), p50 / p99
//   RSS/link   (gateway RSS with the links up - its RSS with the registry
//              loaded and no link) / links up, after a settle and a forced GC-free
//              wait (VmRSS from /proc)
//   idle CPU   the gateway's utime+stime over IDLE_S, in % of one core, at
//              the profile's 30 s heartbeat, then at 1 s (the profile
//              changed live through the ops API: the registry's own path)
//   downs      devices whose session went down during the idle windows
//   load       at N = --load-n (1,000): every device publishes one QoS 1
//              message a second for LOAD_S; device -> subscriber latency
//              p50 / p99, the gateway's CPU per message
//   sessions   distinct session ids (the 32-bit wire id) among the links up
// With --restart (largest N): the profile back to 30 s, the gateway is
// killed (SIGKILL) and started again; time until every device is back.
// Usage: node --import tsx bench/scale.ts [--n 100,1000] [--idle-s 10] [--restart] [--pool 64] [--prof DIR] [--log FILE]
//   [--out bench/scale.json]: the results also to that file, and their plot
//   (bench/scale-svg.ts) to the same name ending .svg.
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, loadavg } from "node:os";
import { join } from "node:path";
import { connect as mqttConnect } from "mqtt";
import { scheduler } from "../host/scheduler.ts";
import { Codec, Prio, Qos } from "../host/abi.ts";
import { Mosquitto, freePort, sleep } from "../gateway/test/helpers.ts";
import { machine, quantile, round } from "./lib.ts";
import {
  type Device,
  type Profile,
  FLEET_HEARTBEAT_MS,
  HANDSHAKE_POOL,
  STORM_S,
  allUp,
  dialFleet,
  fleetOpen,
  fleetSection,
  writeRegistry,
} from "./fleet.ts";
import { GatewayProc } from "./gateway-proc.ts";
import { processTree } from "./proc-cpu.ts";
import { scaleSvg } from "./scale-svg.ts";

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const NS = arg("--n", "100,1000")
  .split(",")
  .map((s) => Number(s));
const IDLE_S = Number(arg("--idle-s", "10"));
const RESTART = process.argv.includes("--restart");
const PROF = process.argv.includes("--prof") ? arg("--prof", "") : "";
/** The gateway's log (warn and up), appended to this file. */
const LOG = process.argv.includes("--log") ? arg("--log", "") : "";
/** Results file (and its plot, .svg), besides stdout. */
const OUT = process.argv.includes("--out") ? arg("--out", "") : "";
/** N at which the load runs: 1 QoS 1 message per second per device. */
const LOAD_N = Number(arg("--load-n", "1000"));
const LOAD_S = 10;
/** QoS 1 messages each device publishes per second in the load phase. */
const LOAD_RATE = Number(arg("--load-rate", "1"));
/** gateway.workers of the gateway under test (cluster.ts). */
const WORKERS = arg("--workers", "1");
/** fleet.handshake_pool of the gateway under test. */
const POOL = Number(arg("--pool", String(HANDSHAKE_POOL)));
const HB_SLOW = FLEET_HEARTBEAT_MS,
  HB_FAST = 1000;

/** The gateway's CPU and RSS: its process and, with workers, every child
 *  process of it (a worker that died counts no more). */
function procStat(pid: number): { cpuS: number; rssKiB: number } {
  let cpuS = 0,
    rssKiB = 0;
  for (const p of processTree(pid)) {
    try {
      const st = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1].split(" ");
      cpuS += (Number(st[11]) + Number(st[12])) / 100; // utime, stime (fields 14, 15)
      rssKiB += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))![1]);
    } catch {
      /* gone between the listing and the read */
    }
  }
  return { cpuS, rssKiB };
}

async function cpuOver(pid: number, s: number): Promise<number> {
  const a = procStat(pid).cpuS,
    t0 = performance.now();
  await sleep(s * 1000);
  return (100 * (procStat(pid).cpuS - a)) / ((performance.now() - t0) / 1000);
}

/** Every device publishes one QoS 1 message a second (spread over the
 *  second) for LOAD_S; a subscriber takes them from the broker. Latency is
 *  the publish call to the subscriber's callback (one process, one clock);
 *  the gateway's CPU over the window divided by the messages received. */
async function load(devs: Device[], brokerUrl: string, pid: number) {
  const sub = mqttConnect(brokerUrl, { clientId: "qn-scale-sub", protocolVersion: 5 });
  const lat: number[] = [];
  const seen = new Set<string>();
  sub.on("message", (_t, p) => {
    const b = Buffer.from(p);
    const key = `${b.readUInt32LE(8)}:${b.readUInt32LE(12)}`;
    if (seen.has(key)) return;
    seen.add(key);
    lat.push(performance.now() - b.readDoubleLE(0));
  });
  await new Promise<void>((r) => sub.once("connect", () => sub.subscribe("qn/+/telemetry", { qos: 1 }, () => r())));
  let sent = 0,
    refused = 0;
  const a = procStat(pid).cpuS,
    t0 = performance.now();
  for (let round = 0; round < LOAD_S; round++) {
    for (let slot = 0; slot < 100; slot++) {
      for (let i = slot; i < devs.length; i += 100) {
        const sim = devs[i].sim;
        if (!sim) continue;
        const b = Buffer.alloc(16);
        b.writeDoubleLE(performance.now(), 0);
        b.writeUInt32LE(i, 8);
        b.writeUInt32LE(round, 12);
        for (let k = 0; k < LOAD_RATE; k++) {
          const m = Buffer.from(b);
          m.writeUInt32LE(round * LOAD_RATE + k, 12);
          if (sim.core.tryPublish(1, Qos.AT_LEAST_ONCE, Prio.BULK, Codec.NONE, m) < 0) refused++;
          else sent++;
        }
        scheduler.wake(sim, 0);
      }
      await sleep(10);
    }
  }
  const until = performance.now() + 5000;
  while (seen.size < sent && performance.now() < until) await sleep(50);
  const cpuS = procStat(pid).cpuS - a,
    s = (performance.now() - t0) / 1000;
  sub.end(true);
  lat.sort((x, y) => x - y);
  return {
    sent,
    refused,
    received: seen.size,
    msg_per_s: round(seen.size / s, 0),
    latency_ms: { p50: round(quantile(lat, 0.5), 1), p99: round(quantile(lat, 0.99), 1) },
    gateway_cpu_pct: round((100 * cpuS) / s, 1),
    gateway_cpu_us_per_msg: round((cpuS * 1e6) / Math.max(1, seen.size), 0),
  };
}

async function ops(port: number, token: string, method: string, path: string, body?: unknown): Promise<any> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await r.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const profile = (hb: number): Profile => ({
  profile: "sensors",
  heartbeat_ms: hb,
  channels: [
    { channel: 1, topic: "telemetry", qos: 1, direction: "up" },
    { channel: 9, topic: "cmd", qos: 1, direction: "down" },
  ],
});

async function runN(n: number, brokerUrl: string) {
  const dir = mkdtempSync(join(tmpdir(), "qn-bench-scale-"));
  const port = await freePort(),
    opsPort = await freePort();
  writeRegistry(dir, n, profile(HB_SLOW));
  const cfg = join(dir, "gateway.yaml");
  writeFileSync(
    cfg,
    `gateway:
  ops: { listen: "127.0.0.1:${opsPort}", token_file: ops.token }
  spool: mqtt.spool
  log_level: warn
  workers: ${WORKERS}
mqtt: { url: "${brokerUrl}", client_id: "qn-scale-${n}" }
${fleetSection(port, POOL)}`,
  );
  const gw = new GatewayProc(cfg, {
    nodeArgs: ["--expose-gc", ...(PROF ? ["--cpu-prof", `--cpu-prof-dir=${PROF}`] : [])],
    log: LOG || undefined,
  });
  let devs: Device[] = [];
  try {
    gw.start();
    const token = await fleetOpen(gw, dir, port);
    await sleep(3000);
    const base = procStat(gw.pid);
    // The storm: every device dials within STORM_S.
    const storm = STORM_S(n) * 1000;
    const tStart = performance.now();
    devs = dialFleet(n, port, storm);
    const ok = await allUp(devs, 120_000 + storm);
    const bringUpS = (performance.now() - tStart) / 1000;
    const hs = devs
      .map((d) => d.handshakesMs[d.handshakesMs.length - 1])
      .filter((x) => x !== undefined)
      .sort((a, b) => a - b);
    const attempts = devs.reduce((a, d) => a + d.handshakesMs.length, 0);
    await sleep(3000);
    for (const d of devs) d.poll();
    const downs0 = devs.reduce((a, d) => a + d.downs, 0);
    const up = procStat(gw.pid);
    const cpuSlow = await cpuOver(gw.pid, IDLE_S);
    for (const d of devs) d.poll();
    const rssUp = Math.max(up.rssKiB, procStat(gw.pid).rssKiB);
    const loaded = n === LOAD_N ? await load(devs, brokerUrl, gw.pid) : undefined;
    // The profile's heartbeat to 1 s, live, through the ops API.
    const ch = await ops(opsPort, token, "POST", "/registry", { records: [profile(HB_FAST)] });
    await sleep(3000);
    const cpuFast = await cpuOver(gw.pid, IDLE_S);
    for (const d of devs) d.poll();
    const downs = devs.reduce((a, d) => a + d.downs, 0) - downs0;
    const links: { session: number; state: string }[] = await ops(opsPort, token, "GET", "/devices");
    const sessions = new Set(links.filter((l) => l.state === "up").map((l) => l.session));
    const metrics: string = await ops(opsPort, token, "GET", "/metrics");
    const refused = [...metrics.matchAll(/^qn_fleet_refused_total\{reason="(\w+)"\} (\d+)/gm)].map(
      (m) => `${m[1]} ${m[2]}`,
    );
    let restart: { backS: number; ok: boolean } | undefined;
    if (RESTART && n === Math.max(...NS)) {
      // The restart at the white paper's heartbeat.
      await ops(opsPort, token, "POST", "/registry", { records: [profile(HB_SLOW)] });
      await sleep(2000);
      await gw.stop("SIGKILL");
      const tr = performance.now();
      gw.start();
      const back = await allUp(devs, 120_000);
      restart = { backS: round((performance.now() - tr) / 1000, 1), ok: back };
    }
    return {
      n,
      all_up: ok,
      bring_up_s: round(bringUpS, 2),
      storm_s: STORM_S(n),
      handshake_ms: {
        p50: round(quantile(hs, 0.5), 1),
        p99: round(quantile(hs, 0.99), 1),
        max: round(hs.at(-1) ?? NaN, 1),
      },
      handshake_attempts: attempts,
      rss_base_mib: round(base.rssKiB / 1024, 1),
      rss_up_mib: round(up.rssKiB / 1024, 1),
      rss_per_link_kib: round((rssUp - base.rssKiB) / Math.max(1, links.filter((l) => l.state === "up").length), 1),
      idle_cpu_pct: { hb_30s: round(cpuSlow, 2), hb_1s: round(cpuFast, 2) },
      profile_change: ch.ok ? ch.applied : ch,
      link_downs_while_idle: downs,
      workers: WORKERS,
      qos1_load: loaded && { per_device_per_s: LOAD_RATE, ...loaded },
      links_up: links.filter((l) => l.state === "up").length,
      session_ids_distinct: sessions.size,
      refused,
      restart,
      load_avg: loadavg().map((x) => round(x, 2)),
    };
  } finally {
    for (const d of devs) d.stop();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const broker = new Mosquitto(await freePort());
  await broker.start();
  const out = [];
  try {
    for (const n of NS) {
      const r = await runN(n, broker.url);
      process.stderr.write(`${JSON.stringify(r)}\n`);
      out.push(r);
    }
  } finally {
    await broker.stop();
  }
  const doc = JSON.stringify({ machine: machine(), idle_s: IDLE_S, handshake_pool: POOL, results: out }, null, 2);
  console.log(doc);
  if (OUT) {
    writeFileSync(OUT, `${doc}\n`);
    writeFileSync(OUT.replace(/(\.json)?$/, ".svg"), scaleSvg(out));
  }
  process.exit(0);
}

void main();
