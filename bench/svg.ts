// The benchmarks' SVG pieces, no dependencies: text escaping, a document
// with its title, a line plot panel (linear or log axes), and a histogram
// of latency samples (log-spaced bins, one row of bars per series).
export const esc = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The document's opening: size, font, white background and the title. */
export function svgOpen(w: number, h: number, title: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">` +
    `<rect width="100%" height="100%" fill="white"/><text x="${w / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`
  );
}

/** A line through the points (pixels); nothing for fewer than two. */
export function polyline(xy: readonly (readonly [number, number])[], color: string, dash = "", width = 2): string {
  if (xy.length < 2) return "";
  const pts = xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
  return `<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="${width}" stroke-dasharray="${dash}"/>`;
}

/** An axis: its range, log or linear, and the values that get a tick. */
export interface Axis {
  lo: number;
  hi: number;
  log: boolean;
  ticks: number[];
  label: string;
  format?: (v: number) => string;
}

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
  color: string;
  dash?: string;
  marks?: boolean;
}

/** Maps a value to pixels from a to b along the axis (log axes clamp at lo). */
export function axisMap(ax: Axis, a: number, b: number): (v: number) => number {
  const f = (v: number) => (ax.log ? Math.log10(Math.max(v, ax.lo)) : v);
  const lo = f(ax.lo),
    hi = f(ax.hi);
  return (v) => a + ((f(v) - lo) / (hi - lo || 1)) * (b - a);
}

/** A plot panel at (left, top), w x h: axes, ticks with grid lines, the
 *  panel's title above, one line per series (with a dot per point when
 *  marks is set). */
export function linePanel(
  left: number,
  top: number,
  w: number,
  h: number,
  title: string,
  x: Axis,
  y: Axis,
  series: Series[],
): string {
  const xOf = axisMap(x, left, left + w),
    yOf = axisMap(y, top + h, top);
  const fmt = (ax: Axis, v: number) => (ax.format ? ax.format(v) : String(v));
  let s = `<text x="${left + w / 2}" y="${top - 10}" text-anchor="middle">${esc(title)}</text>`;
  s += `<line x1="${left}" y1="${top + h}" x2="${left + w}" y2="${top + h}" stroke="#888"/><line x1="${left}" y1="${top}" x2="${left}" y2="${top + h}" stroke="#888"/>`;
  for (const v of x.ticks)
    s += `<text x="${xOf(v).toFixed(1)}" y="${top + h + 14}" text-anchor="middle">${esc(fmt(x, v))}</text>`;
  s += `<text x="${left + w / 2}" y="${top + h + 30}" text-anchor="middle">${esc(x.label)}</text>`;
  for (const v of y.ticks)
    s += `<text x="${left - 5}" y="${(yOf(v) + 4).toFixed(1)}" text-anchor="end">${esc(fmt(y, v))}</text><line x1="${left}" y1="${yOf(v).toFixed(1)}" x2="${left + w}" y2="${yOf(v).toFixed(1)}" stroke="#eee"/>`;
  s += `<text transform="translate(${left - 38},${top + h / 2}) rotate(-90)" text-anchor="middle">${esc(y.label)}</text>`;
  for (const sr of series) {
    const xy = sr.points.filter(([, v]) => Number.isFinite(v)).map(([a, b]) => [xOf(a), yOf(b)] as const);
    s += polyline(xy, sr.color, sr.dash);
    if (sr.marks)
      for (const [a, b] of xy)
        s += `<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="3" fill="${sr.color}"><title>${esc(sr.name)}</title></circle>`;
  }
  return s;
}

/** A legend row at y: a swatch and the name of each series, the i-th at
 *  left + offsets[i]. */
export function legend(
  left: number,
  y: number,
  series: { name: string; color: string; dash?: string }[],
  offsets: number[],
): string {
  return series
    .map((sr, i) => {
      const x = left + offsets[i];
      return `<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${sr.color}" stroke-width="2" stroke-dasharray="${sr.dash ?? ""}"/><text x="${x + 28}" y="${y + 4}">${esc(sr.name)}</text>`;
    })
    .join("");
}

export function histogramSvg(title: string, series: Record<string, number[]>): string {
  const all = Object.values(series)
    .flat()
    .filter((x) => x > 0);
  const lo = Math.log10(Math.min(...all)),
    hi = Math.log10(Math.max(...all)) + 1e-9;
  const BINS = 40,
    W = 760,
    rowH = 110,
    left = 150,
    top = 40,
    plotW = W - left - 20;
  const names = Object.keys(series);
  const H = top + names.length * rowH + 50;
  const colors = ["#3366aa", "#cc6633", "#339955", "#aa3377"];
  let s = svgOpen(W, H, title);
  names.forEach((name, r) => {
    const counts = new Array(BINS).fill(0);
    for (const x of series[name])
      if (x > 0) counts[Math.min(BINS - 1, Math.floor(((Math.log10(x) - lo) / (hi - lo)) * BINS))]++;
    const max = Math.max(...counts, 1),
      y0 = top + (r + 1) * rowH - 10,
      bw = plotW / BINS;
    s += `<text x="${left - 8}" y="${y0 - rowH / 2}" text-anchor="end">${esc(name)} (n=${series[name].length})</text>`;
    s += `<line x1="${left}" y1="${y0}" x2="${left + plotW}" y2="${y0}" stroke="#888"/>`;
    counts.forEach((c, i) => {
      if (!c) return;
      const h = (c / max) * (rowH - 25);
      s += `<rect x="${(left + i * bw).toFixed(1)}" y="${(y0 - h).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${colors[r % colors.length]}"><title>${c}</title></rect>`;
    });
  });
  const yAxis = top + names.length * rowH;
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of [1, 2, 5]) {
      const v = Math.log10(m * 10 ** e);
      if (v < lo || v > hi) continue;
      const x = left + ((v - lo) / (hi - lo)) * plotW;
      const label = m * 10 ** e >= 1000 ? `${(m * 10 ** e) / 1000} ms` : `${m * 10 ** e} µs`;
      s += `<line x1="${x.toFixed(1)}" y1="${yAxis - 5}" x2="${x.toFixed(1)}" y2="${yAxis}" stroke="#444"/><text x="${x.toFixed(1)}" y="${yAxis + 14}" text-anchor="middle">${label}</text>`;
    }
  }
  s += `<text x="${left + plotW / 2}" y="${yAxis + 34}" text-anchor="middle">round trip (log scale)</text></svg>\n`;
  return s;
}
