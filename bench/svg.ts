// A small SVG histogram of latency samples (log-spaced bins), no
// dependencies: one row of bars per series, sharing the x axis.
const esc = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

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
  let s = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`;
  s += `<rect width="100%" height="100%" fill="white"/><text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`;
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
