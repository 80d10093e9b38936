// CPU time of the processes of a benchmark, read from /proc (Linux): a
// process's threads one by one (the gateway: its event loop apart from
// libuv's pool and V8's helpers), another process as a whole (mosquitto),
// and this process (the load generator). Figures are per message received,
// so they say what a message costs each hop whatever share of the 2 shared
// cores the other processes left it.
import { readdirSync, readFileSync } from "node:fs";

/** USER_HZ: the unit of utime and stime in /proc, 100 on Linux. */
export const TICK_US = 1e6 / 100;

export interface Ticks {
  user: number;
  sys: number;
  /** The thread's name (V8's workers, libuv's pool, the main thread). */
  name?: string;
}

/** utime and stime of one /proc stat line: the 14th and 15th fields, the
 *  12th and 13th after the ")" that closes the command name (which may
 *  itself hold spaces and parentheses). */
function statTicks(line: string): Ticks {
  const f = line.slice(line.lastIndexOf(")") + 2).split(" ");
  return { user: Number(f[11]), sys: Number(f[12]), name: line.slice(line.indexOf("(") + 1, line.lastIndexOf(")")) };
}

/** utime and stime of each thread of `pid`; null where there is no /proc. */
export function threadTimes(pid: number): Map<number, Ticks> | null {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  const out = new Map<number, Ticks>();
  for (const tid of tids) {
    try {
      out.set(Number(tid), statTicks(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")));
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return out;
}

/** The processes a gateway runs on: `pid` and, with workers (cluster.ts),
 *  its child processes. */
export function processTree(pid: number): number[] {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    return [pid, ...kids.map(Number)];
  } catch {
    return [pid];
  }
}

/** utime and stime of each thread of `pid` and of its child processes,
 *  with `main` set on each process's main thread; null where there is no
 *  /proc. */
function treeTimes(pid: number): Map<number, Ticks & { main: boolean }> | null {
  const out = new Map<number, Ticks & { main: boolean }>();
  for (const p of processTree(pid)) {
    const t = threadTimes(p);
    if (!t) {
      if (p === pid) return null;
      continue; // a worker that ended meanwhile
    }
    for (const [tid, ticks] of t) out.set(tid, { ...ticks, main: tid === p });
  }
  return out;
}

/** CPU of one process over a phase, µs per message received. */
export interface HopCpu {
  us_per_msg: number;
  user_us_per_msg: number;
  sys_us_per_msg: number;
  /** The event loop (main thread) and the other threads; only where the
   *  threads were read one by one. */
  main_us_per_msg?: number;
  other_us_per_msg?: number;
  /** The threads by name, where read one by one. */
  by_thread?: Record<string, number>;
}

const per = (ticks: number, messages: number) => Math.round(((ticks * TICK_US) / messages) * 10) / 10;

/** A process's threads (and its child processes' threads: a gateway's
 *  workers), sampled at the start of a phase. */
export class ThreadSample {
  private readonly before: Map<number, Ticks & { main: boolean }> | null;
  constructor(readonly pid: number) {
    this.before = treeTimes(pid);
  }
  /** CPU since the sample, per message; undefined without /proc or messages. */
  since(messages: number): HopCpu | undefined {
    const after = treeTimes(this.pid);
    if (!this.before || !after || !messages) return undefined;
    let main = 0,
      other = 0,
      user = 0,
      sys = 0;
    const byName: Record<string, number> = {};
    for (const [tid, t] of after) {
      // A thread started during the phase counts from zero.
      const b = this.before.get(tid) ?? { user: 0, sys: 0 };
      const u = t.user - b.user,
        s = t.sys - b.sys;
      user += u;
      sys += s;
      if (t.main) main += u + s;
      else other += u + s;
      const name = t.main ? (tid === this.pid ? "main" : `main:${tid}`) : `${t.name ?? "?"}:${tid - this.pid}`;
      byName[name] = (byName[name] ?? 0) + u + s;
    }
    return {
      us_per_msg: per(user + sys, messages),
      user_us_per_msg: per(user, messages),
      sys_us_per_msg: per(sys, messages),
      main_us_per_msg: per(main, messages),
      other_us_per_msg: per(other, messages),
      by_thread: Object.fromEntries(Object.entries(byName).map(([k, v]) => [k, per(v, messages)])),
    };
  }
}

/** utime and stime of the whole process `pid` (all its threads). */
function processTicks(pid: number): Ticks | null {
  try {
    return statTicks(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return null;
  }
}

/** Another process as a whole (mosquitto is single-threaded), sampled at
 *  the start of a phase. */
export class ProcessSample {
  private readonly before: Ticks | null;
  constructor(readonly pid: number) {
    this.before = processTicks(pid);
  }
  since(messages: number): HopCpu | undefined {
    const after = processTicks(this.pid);
    if (!this.before || !after || !messages) return undefined;
    const user = after.user - this.before.user,
      sys = after.sys - this.before.sys;
    return {
      us_per_msg: per(user + sys, messages),
      user_us_per_msg: per(user, messages),
      sys_us_per_msg: per(sys, messages),
    };
  }
}

/** This process (µs resolution, process.cpuUsage). */
export class SelfSample {
  private readonly before = process.cpuUsage();
  since(messages: number): HopCpu | undefined {
    if (!messages) return undefined;
    const d = process.cpuUsage(this.before);
    const r = (us: number) => Math.round((us / messages) * 10) / 10;
    return { us_per_msg: r(d.user + d.system), user_us_per_msg: r(d.user), sys_us_per_msg: r(d.system) };
  }
}
