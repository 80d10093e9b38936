// Shared helpers of the benchmarks: timing rounds, statistics, the machine.
import { readFileSync } from "node:fs";
import { cpus } from "node:os";

export function machine() {
  let model = cpus()[0]?.model ?? "unknown";
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) model = m[1];
  } catch {
    /* not Linux */
  }
  return { node: process.version, cpu: model, cores: cpus().length, platform: `${process.platform}-${process.arch}` };
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  rounds: number[];
}
export function spread(xs: number[]): Spread {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), rounds: xs };
}

/** Ops per second of `op` over about `ms` milliseconds (batches of `batch`). */
export function opsPerSec(op: () => void, ms: number, batch = 64): number {
  let n = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(ms * 1e6));
  let t = t0;
  while (t < end) {
    for (let i = 0; i < batch; i++) op();
    n += batch;
    t = process.hrtime.bigint();
  }
  return n / (Number(t - t0) / 1e9);
}

/** A full garbage collection when node runs with --expose-gc (make bench
 *  does): each timed round then starts with an empty heap instead of paying
 *  for the garbage of the contender that ran before it (without it the
 *  ratios alternated with the order of the contenders). */
const fullGc = (globalThis as { gc?: () => void }).gc;
export const gcBetweenRounds = fullGc !== undefined;

/** Run contenders interleaved round by round (so drift and noise from
 *  other processes hit all of them alike): warm-up first, then `rounds`
 *  timed rounds. Returns ops/s per contender per round. */
export function interleaved(
  contenders: Record<string, () => void>,
  rounds: number,
  ms: number,
): Record<string, number[]> {
  const names = Object.keys(contenders);
  for (const n of names) opsPerSec(contenders[n], ms); // warm-up: JIT, caches
  const out: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...names].reverse() : names;
    for (const n of order) {
      fullGc?.();
      out[n].push(opsPerSec(contenders[n], ms));
    }
  }
  return out;
}

export const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
