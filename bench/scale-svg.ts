// The fleet scale plot (bench/scale.svg) from bench/scale.ts's results:
// memory (RSS per link, and the gateway's whole RSS with the registry
// loaded and with every link up) and idle CPU (at the 30 s and the 1 s
// heartbeat) against the number of devices N, log scale in N, with issue
// 18's goals dotted. Run alone it redraws the plot from a results file:
//   node --import tsx bench/scale-svg.ts bench/scale.json bench/scale.svg
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { type Axis, legend, linePanel, type Series, svgOpen } from "./svg.ts";

/** The fields of one N's result the plot reads. */
export interface ScalePoint {
  n: number;
  rss_base_mib: number;
  rss_up_mib: number;
  rss_per_link_kib: number;
  idle_cpu_pct: { hb_30s: number; hb_1s: number };
}

/** Issue 18's goals: RSS per idle link, and idle CPU at a 30 s heartbeat. */
export const GOAL_RSS_PER_LINK_KIB = 64;
export const GOAL_IDLE_CPU_PCT = 5;

const BLUE = "#3366aa",
  ORANGE = "#cc6633",
  GREEN = "#339955",
  GREY = "#888888";

/** Powers of ten (and their 2x, 5x) from lo to hi: a log axis's ticks. */
function decades(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  return out;
}

/** Up to six round linear ticks from 0 to past hi. */
function linear(hi: number): { hi: number; ticks: number[] } {
  const raw = hi / 5,
    mag = 10 ** Math.floor(Math.log10(raw || 1)),
    step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const top = Math.max(step, Math.ceil(hi / step) * step);
  const ticks: number[] = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(v);
  return { hi: top, ticks };
}

const thousands = (v: number) => v.toLocaleString("en-US");

export function scaleSvg(points: ScalePoint[], subtitle = ""): string {
  const pts = [...points].sort((a, b) => a.n - b.n);
  const W = 1010,
    H = 400,
    top = 70,
    pw = 250,
    ph = 240;
  const nLo = pts[0]?.n ?? 1,
    nHi = pts.at(-1)?.n ?? 10;
  const x: Axis = {
    lo: nLo / 1.5,
    hi: nHi * 1.5,
    log: true,
    ticks: pts.map((p) => p.n),
    label: "devices N (log)",
    format: thousands,
  };
  const line = (name: string, color: string, get: (p: ScalePoint) => number, dash = ""): Series => ({
    name,
    color,
    dash,
    marks: true,
    points: pts.map((p) => [p.n, get(p)] as const),
  });
  const goal = (name: string, v: number): Series => ({
    name,
    color: GREY,
    dash: "2,3",
    points: [
      [x.lo, v],
      [x.hi, v],
    ],
  });

  const perLink = linear(Math.max(GOAL_RSS_PER_LINK_KIB, ...pts.map((p) => p.rss_per_link_kib)) * 1.1);
  const whole = linear(Math.max(...pts.map((p) => p.rss_up_mib)) * 1.1);
  const cpuHi = Math.max(GOAL_IDLE_CPU_PCT, ...pts.flatMap((p) => [p.idle_cpu_pct.hb_30s, p.idle_cpu_pct.hb_1s])) * 2;
  const cpuLo = Math.min(
    0.1,
    ...pts.flatMap((p) => [p.idle_cpu_pct.hb_30s, p.idle_cpu_pct.hb_1s]).filter((v) => v > 0),
  );

  let s = svgOpen(W, H, `QN fleet gateway: memory and idle CPU against devices N${subtitle ? ` (${subtitle})` : ""}`);
  s += linePanel(
    70,
    top,
    pw,
    ph,
    "RSS per link, KiB",
    x,
    { lo: 0, hi: perLink.hi, log: false, ticks: perLink.ticks, label: "KiB per link" },
    [goal("goal", GOAL_RSS_PER_LINK_KIB), line("RSS per link", BLUE, (p) => p.rss_per_link_kib)],
  );
  s += linePanel(
    400,
    top,
    pw,
    ph,
    "gateway RSS, MiB",
    x,
    { lo: 0, hi: whole.hi, log: false, ticks: whole.ticks, label: "MiB" },
    [
      line("registry loaded, no link", GREEN, (p) => p.rss_base_mib, "6,4"),
      line("every link up", BLUE, (p) => p.rss_up_mib),
    ],
  );
  s += linePanel(
    730,
    top,
    pw,
    ph,
    "gateway idle CPU, % of one core (log)",
    x,
    {
      lo: cpuLo,
      hi: cpuHi,
      log: true,
      ticks: decades(cpuLo, cpuHi),
      label: "% of a core",
      format: (v) => String(Number(v.toPrecision(2))),
    },
    [
      goal("goal at 30 s", GOAL_IDLE_CPU_PCT),
      line("30 s heartbeat", BLUE, (p) => p.idle_cpu_pct.hb_30s),
      line("1 s heartbeat", ORANGE, (p) => p.idle_cpu_pct.hb_1s),
    ],
  );
  s += legend(
    70,
    H - 18,
    [
      { name: "RSS per link / every link up / 30 s heartbeat", color: BLUE },
      { name: "registry loaded, no link", color: GREEN, dash: "6,4" },
      { name: "1 s heartbeat", color: ORANGE },
      { name: "goal (issue 18)", color: GREY, dash: "2,3" },
    ],
    [0, 330, 530, 660],
  );
  return `${s}</svg>\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [from = "bench/scale.json", to = "bench/scale.svg"] = process.argv.slice(2);
  const j = JSON.parse(readFileSync(from, "utf8"));
  writeFileSync(to, scaleSvg(j.results, j.subtitle));
}
