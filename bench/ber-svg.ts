// The BER plot (bench/ber.svg), no dependencies: goodput relative to the
// clean line and p99 latency against the bit error rate, one line per QoS
// level and link (solid: in-process, dashed: QEMU board), with the goal's
// expected goodput (clean x survival of a frame and its ack) dotted.
import { esc, polyline, svgOpen } from "./svg.ts";

interface Point {
  ber: number;
  qos: number;
  goodput: number;
  p99_ms: number;
  expected_goodput: number | null;
}

const COLORS = ["#3366aa", "#cc6633", "#339955"];

export function berSvg(sim: Point[], qemu: Point[]): string {
  const W = 820,
    H = 360,
    panelW = 340,
    top = 50,
    plotH = 230;
  const rates = [...new Set([...sim, ...qemu].map((p) => p.ber))].sort((a, b) => a - b);
  // The clean line sits one decade left of the lowest rate, labelled 0.
  const lo = Math.log10(rates.find((r) => r > 0) ?? 1e-5) - 1,
    hi = Math.log10(rates[rates.length - 1] || 1e-3);
  const xOf = (left: number, ber: number) => left + ((Math.log10(ber > 0 ? ber : 10 ** lo) - lo) / (hi - lo)) * panelW;
  const maxP99 = Math.max(1, ...[...sim, ...qemu].map((p) => p.p99_ms).filter(Number.isFinite));
  const yLog = (v: number) => top + plotH - (Math.log10(Math.max(1, v)) / Math.log10(maxP99 * 2)) * plotH;
  const yRel = (v: number) => top + plotH - Math.min(1.1, Math.max(0, v)) * (plotH / 1.1);
  let s = svgOpen(
    W,
    H,
    "QN goodput and p99 latency against bit error rate (solid in-process, dashed QEMU, dotted expected)",
  );
  const panels = [
    { left: 60, title: "goodput / clean goodput", y: yRel, val: "rel" as const },
    { left: 470, title: "p99 latency, ms (log)", y: yLog, val: "p99" as const },
  ];
  for (const p of panels) {
    s += `<text x="${p.left + panelW / 2}" y="${top - 10}" text-anchor="middle">${esc(p.title)}</text>`;
    s += `<line x1="${p.left}" y1="${top + plotH}" x2="${p.left + panelW}" y2="${top + plotH}" stroke="#888"/><line x1="${p.left}" y1="${top}" x2="${p.left}" y2="${top + plotH}" stroke="#888"/>`;
    for (const r of rates) {
      const x = xOf(p.left, r);
      s += `<text x="${x.toFixed(1)}" y="${top + plotH + 14}" text-anchor="middle">${r === 0 ? "0" : r.toExponential(0)}</text>`;
    }
    s += `<text x="${p.left + panelW / 2}" y="${top + plotH + 30}" text-anchor="middle">bit error rate (drops and inserts at the same rate per byte)</text>`;
    const ticks = p.val === "rel" ? [0, 0.25, 0.5, 0.75, 1] : [1, 10, 100, 1000, 10000].filter((v) => v <= maxP99 * 2);
    for (const t of ticks)
      s += `<text x="${p.left - 5}" y="${(p.y(t) + 4).toFixed(1)}" text-anchor="end">${t}</text><line x1="${p.left}" y1="${p.y(t).toFixed(1)}" x2="${p.left + panelW}" y2="${p.y(t).toFixed(1)}" stroke="#eee"/>`;
    for (const [set, dash] of [
      [sim, ""],
      [qemu, "6,4"],
    ] as const) {
      for (const q of [0, 1, 2]) {
        const pts = set.filter((x) => x.qos === q).sort((a, b) => a.ber - b.ber);
        const clean = pts.find((x) => x.ber === 0);
        if (!clean || pts.length < 2) continue;
        const v = (x: Point) => (p.val === "rel" ? x.goodput / clean.goodput : x.p99_ms);
        const line = (get: (x: Point) => number | null, d: string) => {
          const xy = pts
            .map((x) => [xOf(p.left, x.ber), get(x)] as const)
            .filter((a): a is readonly [number, number] => a[1] !== null && Number.isFinite(a[1]))
            .map(([x, y]) => [x, p.y(y)] as const);
          s += polyline(xy, COLORS[q], d);
        };
        line(v, dash);
        if (p.val === "rel" && q > 0 && set === sim)
          line(
            (x) => (x.expected_goodput === null ? (x.ber === 0 ? 1 : null) : x.expected_goodput / clean.goodput),
            "2,3",
          );
      }
    }
  }
  [0, 1, 2].forEach((q, i) => {
    s += `<rect x="${60 + i * 90}" y="${H - 22}" width="14" height="4" fill="${COLORS[q]}"/><text x="${80 + i * 90}" y="${H - 17}">QoS ${q}</text>`;
  });
  return s + "</svg>\n";
}
