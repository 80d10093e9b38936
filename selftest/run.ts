// Runs a list of checks against a connected target and builds the report.
// A check that throws (timeout, lost link) is a FAIL with the reason; the
// run goes on with the next check unless the link itself is gone.
import { CHECKS, type Check, type Context, type CheckOutcome } from "./checks.ts";
import { num, text } from "./probe.ts";
import { hostRx, lineQuality, snapshot, type LineQuality } from "./line-quality.ts";

export interface TestEntry {
  number: number;
  id: string;
  name: string;
  status: CheckOutcome["status"];
  duration_us: number;
  metrics: CheckOutcome["metrics"];
  detail: string;
}

export interface Report {
  health_status: "PASS" | "FAIL" | "INCOMPLETE";
  max_latency_us: number | null;
  platform: string;
  target: Context["target"];
  port: string | null;
  mode: Context["mode"];
  firmware: { version: string; build_id: string; clock_hz: number };
  started_at: string;
  duration_ms: number;
  summary: { passed: number; failed: number; skipped: number };
  tests: TestEntry[];
  /** The line's quality over the run, measured apart from the checks. */
  line: LineQuality;
}

/** What a failed check's detail gains when the line damaged frames while
 *  it ran: the line is then a cause to rule out before the software. A
 *  check that could not finish (no answer, a lost session) did not verify
 *  anything, and says so instead of naming a fault. */
function lineNote(out: CheckOutcome, damaged: number, retries: number, threw: boolean): string {
  if (out.status !== "FAIL" || (damaged === 0 && retries === 0)) return out.detail;
  const seen = `the line damaged ${damaged} frame(s) to the host and ${retries} request(s) were retried during this check`;
  return threw
    ? `could not verify on this line (${seen}): ${out.detail.replace(/^check could not finish: /, "")}`
    : `${out.detail} (${seen}: the line may be the cause)`;
}

export function selectChecks(only?: string): Check[] {
  if (only === undefined) return CHECKS;
  const wanted = only
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  // Given but naming nothing (an empty shell variable, say): an error, not
  // a PASS report of no checks or a silent full run.
  if (wanted.length === 0) throw new Error(`--only: no check named (ids or numbers; qn_selftest --list shows them)`);
  const out: Check[] = [];
  for (const w of wanted) {
    const c = CHECKS.find((k) => k.id === w || String(k.n) === w);
    if (!c) throw new Error(`--only: unknown check "${w}" (qn_selftest --list shows the ids)`);
    if (!out.includes(c)) out.push(c);
  }
  // Identity first when asked for: later checks read what it learnt.
  return out.sort((a, b) => a.n - b.n);
}

export async function runChecks(
  ctx: Context,
  checks: Check[],
  progress: (e: TestEntry, i: number, n: number) => void,
  port: string | null,
): Promise<Report> {
  const started = new Date();
  const tests: TestEntry[] = [];
  const lineBefore = await snapshot(ctx.peer);
  for (const [i, c] of checks.entries()) {
    const t0 = process.hrtime.bigint();
    const rx0 = hostRx(ctx.peer).frames_damaged;
    const retries0 = ctx.peer.retries;
    let out: CheckOutcome;
    let threw = false;
    try {
      out = await c.run(ctx);
    } catch (e: any) {
      threw = true;
      out = { status: "FAIL", metrics: {}, detail: `check could not finish: ${e?.message ?? e}` };
    }
    out.detail = lineNote(out, hostRx(ctx.peer).frames_damaged - rx0, ctx.peer.retries - retries0, threw);
    const entry: TestEntry = {
      number: c.n,
      id: c.id,
      name: c.name,
      status: out.status,
      duration_us: Number((process.hrtime.bigint() - t0) / 1000n),
      metrics: out.metrics,
      detail: out.detail,
    };
    tests.push(entry);
    progress(entry, i + 1, checks.length);
  }
  const line = lineQuality(lineBefore, await snapshot(ctx.peer));
  if (ctx.injected) line.injected = ctx.injected;
  const count = (s: string) => tests.filter((t) => t.status === s).length;
  const summary = { passed: count("PASS"), failed: count("FAIL"), skipped: count("SKIP") };
  const lat = tests.find((t) => t.id === "link.loopback_latency" && t.status === "PASS");
  const id = ctx.identity;
  return {
    health_status: summary.failed ? "FAIL" : summary.skipped ? "INCOMPLETE" : "PASS",
    max_latency_us: lat ? Number(lat.metrics.max_latency_us) : null,
    platform: (id && text(id.get(3))) || ctx.target,
    target: ctx.target,
    port,
    mode: ctx.mode,
    firmware: {
      version: id ? text(id.get(1)) : "unknown",
      build_id: "0x" + ((id ? num(id.get(2)) : 0) >>> 0).toString(16).padStart(8, "0"),
      clock_hz: id ? num(id.get(4)) : 0,
    },
    started_at: started.toISOString(),
    duration_ms: Date.now() - started.getTime(),
    summary,
    tests,
    line,
  };
}
