// `make bench-ber`: goodput and latency against bit error rate, QoS 0/1/2,
// on the in-process link (bench/ber-sim.ts, simulated time) and the QEMU
// board (bench/ber-qemu.ts, through the line-noise relay), with the goal of
// issue 17 checked per rate: QoS 1/2 goodput >= 90 % of clean goodput x
// the probability that a message frame and its acknowledgement both
// survive, QoS 2 nothing lost or doubled, QoS 1 nothing lost, p99 <= clean
// p99 + 2 RTOs. Writes bench/ber.json, bench/BER.md and bench/ber.svg.
// `--quick` runs fewer messages; `--sim-only` skips the board.
import { writeFileSync } from "node:fs";
import { runBerCase, type BerResult } from "./ber-sim.ts";
import { runQemuBer, type QemuBerResult } from "./ber-qemu.ts";
import { berSvg } from "./ber-svg.ts";
import { machine, round } from "./lib.ts";

export const RATES = [0, 1e-5, 1e-4, 1e-3];
/** The in-process sender's initial retransmission timeout, ms. */
const SIM_RETX_MS = 50;

/** Probability that n wire bytes cross the line intact: each byte keeps
 *  its 8 bits, is not dropped and has nothing inserted before it. */
export function survive(ber: number, bytes: number): number {
  return ((1 - ber) ** 8 * (1 - ber) * (1 - ber)) ** bytes;
}

interface Goal {
  expected_goodput: number | null;
  goodput_ok: boolean | null;
  p99_bound_ms: number | null;
  p99_ok: boolean | null;
  delivery_ok: boolean;
}

function goal(
  r: { ber: number; qos: number; goodput: number; p99_ms: number; lost: number; doubled: number },
  clean: { goodput: number; p99_ms: number } | undefined,
  frameBytes: number,
  ackBytes: number,
  rtoMs: number,
): Goal {
  const delivery_ok = r.qos === 0 ? true : r.qos === 1 ? r.lost === 0 : r.lost === 0 && r.doubled === 0;
  if (!clean || r.qos === 0) {
    return { expected_goodput: null, goodput_ok: null, p99_bound_ms: null, p99_ok: null, delivery_ok };
  }
  const expected = clean.goodput * survive(r.ber, frameBytes) * survive(r.ber, ackBytes);
  const bound = clean.p99_ms + 2 * rtoMs;
  return {
    expected_goodput: round(expected, 1),
    goodput_ok: r.goodput >= 0.9 * expected,
    p99_bound_ms: round(bound, 1),
    p99_ok: r.p99_ms <= bound,
    delivery_ok,
  };
}

export async function runBer(opts: { quick?: boolean; simOnly?: boolean } = {}) {
  const simN = opts.quick ? 300 : 1000;
  const sim: (BerResult & Goal)[] = [];
  for (const ber of RATES)
    for (const qos of [0, 1, 2] as const) {
      const r = runBerCase({ ber, qos, messages: simN, seed: 1, retxMs: SIM_RETX_MS });
      const clean = sim.find((c) => c.ber === 0 && c.qos === qos);
      const base = clean ?? r;
      // The RTO the bound allows: the clean run's measured timer.
      sim.push({ ...r, ...goal(r, clean, base.data_frame_bytes, base.ack_frame_bytes, base.rto.rto_us / 1000) });
    }
  const qemu: (QemuBerResult & Goal)[] = [];
  let qemuError: string | undefined;
  if (!opts.simOnly) {
    try {
      for (const ber of RATES) {
        const rs = await runQemuBer(ber, opts.quick ? 50 : 100, opts.quick ? 8000 : 15_000);
        for (const r of rs) {
          const clean = qemu.find((c) => c.ber === 0 && c.qos === r.qos);
          // Frame sizes as on the in-process link (same core, same auth
          // mode); QoS 0/1 are echoed, so their message crosses twice.
          const s = sim.find((c) => c.ber === 0 && c.qos === r.qos)!;
          const twice = r.qos === 2 ? 1 : 2;
          qemu.push({
            ...r,
            ...goal(r, clean, s.data_frame_bytes * twice, s.ack_frame_bytes * twice, clean?.rto_ms ?? r.rto_ms),
          });
        }
      }
    } catch (e) {
      qemuError = (e as Error).message;
    }
  }
  return { machine: machine(), sim_retx_ms: SIM_RETX_MS, sim, qemu, qemu_error: qemuError };
}

const yes = (x: boolean | null) => (x === null ? "–" : x ? "yes" : "**no**");
// QoS 0 is never done or not: what the line destroyed is gone.
const done = (r: { qos: number; finished: boolean }) => (r.qos === 0 ? "–" : r.finished ? "yes" : "**no**");
const f = (x: number, d = 0) => (Number.isFinite(x) ? round(x, d).toLocaleString("en-US") : "–");

export function berTable(res: Awaited<ReturnType<typeof runBer>>): string[] {
  const L: string[] = [];
  L.push(
    "### In-process link (simulated time, 921600 baud each way, auth mode 2, 32-byte messages, window 8)",
    "",
    "| BER | QoS | delivered | not delivered | doubled | done in time | goodput msg/s | expected | ≥ 90 %? | p50 ms | p99 ms | p99 bound | p99 ok? | retransmissions | sessions lost | RTO ms |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const r of res.sim)
    L.push(
      `| ${r.ber} | ${r.qos} | ${r.delivered} | ${r.lost} | ${r.doubled} | ${done(r)} | ${f(r.goodput)} | ${r.expected_goodput ?? "–"} | ${yes(r.goodput_ok)} | ${f(r.p50_ms)} | ${f(r.p99_ms)} | ${r.p99_bound_ms ?? "–"} | ${yes(r.p99_ok)} | ${r.retransmissions} | ${r.sessions_lost} | ${f(r.rto.rto_us / 1000, 1)} |`,
    );
  L.push("");
  if (res.qemu.length) {
    L.push(
      "### QEMU board (mps2-an500, -icount shift=0, product firmware, relay at the UART socket; host wall clock)",
      "",
      "| BER | QoS | delivered | not delivered | doubled | done in time | exactly once | goodput msg/s | expected | ≥ 90 %? | p50 ms | p99 ms | p99 bound | p99 ok? | retransmissions | RTO ms |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    );
    for (const r of res.qemu)
      L.push(
        `| ${r.ber} | ${r.qos} | ${r.delivered} | ${r.lost} | ${r.doubled} | ${done(r)} | ${r.exactly_once === undefined ? "–" : r.exactly_once ? "yes" : "**no**"} | ${f(r.goodput)} | ${r.expected_goodput ?? "–"} | ${yes(r.goodput_ok)} | ${f(r.p50_ms)} | ${f(r.p99_ms)} | ${r.p99_bound_ms ?? "–"} | ${yes(r.p99_ok)} | ${r.retransmissions} | ${f(r.rto_ms, 1)} |`,
      );
    L.push("");
  }
  if (res.qemu_error) L.push(`QEMU part not run: ${res.qemu_error}`, "");
  L.push(
    "Not delivered: messages the receiver had not had when the run's time limit ended (120 s simulated in-process, 15 s per level on the board); at QoS 1 and 2 they are still in flight, not dropped (done in time: no). QoS 0 has no retransmission: what the line destroys is gone. Expected: clean goodput x the probability that the message frame and its acknowledgement both cross the line (QEMU QoS 0/1: echoed, so both ways twice). p99 bound: clean p99 + 2 x the clean run's measured RTO.",
    "",
    "Plot: bench/ber.svg.",
  );
  return L;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes("--quick");
  const simOnly = process.argv.includes("--sim-only");
  const t0 = Date.now();
  const res = await runBer({ quick, simOnly });
  writeFileSync("bench/ber.json", JSON.stringify({ ...res, duration_s: (Date.now() - t0) / 1000 }, null, 2) + "\n");
  writeFileSync("bench/ber.svg", berSvg(res.sim, res.qemu));
  const md = ["# Goodput and latency against bit error rate (make bench-ber)", "", ...berTable(res), ""];
  writeFileSync("bench/BER.md", md.join("\n"));
  console.log(md.join("\n"));
}
