// The benchmarks' plots: the fleet scale plot draws each series through
// its points (log N across, values up), and the BER plot, drawn through
// the shared SVG helpers, is the committed bench/ber.svg from bench/ber.json.
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { scaleSvg, type ScalePoint } from "../scale-svg.ts";
import { berSvg } from "../ber-svg.ts";

const point = (n: number, perLink: number, cpu30: number, cpu1: number): ScalePoint => ({
  n,
  rss_base_mib: 100 + n / 100,
  rss_up_mib: 100 + n / 100 + (n * perLink) / 1024,
  rss_per_link_kib: perLink,
  idle_cpu_pct: { hb_30s: cpu30, hb_1s: cpu1 },
});

/** The polylines' points, in document order. */
const lines = (svg: string) =>
  [...svg.matchAll(/<polyline points="([^"]+)"/g)].map((m) => m[1].split(" ").map((p) => p.split(",").map(Number)));

describe("bench SVG plots", () => {
  it("scale: one line per series through every N, x growing with N, y growing with the value", () => {
    const svg = scaleSvg([point(10000, 116, 3.2, 51.7), point(100, 210, 1.1, 1.4), point(1000, 84.5, 0.6, 6.1)]);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    const ls = lines(svg);
    // Goal + per link; base + up; goal + 30 s + 1 s.
    expect(ls.length).toBe(7);
    const perLink = ls[1];
    expect(perLink.map(([x]) => x)).toEqual([...perLink.map(([x]) => x)].sort((a, b) => a - b));
    expect(perLink.length).toBe(3);
    // 210 (N = 100) above 116 (10,000) above 84.5 (1,000): smaller y is higher.
    expect(perLink[0][1]).toBeLessThan(perLink[2][1]);
    expect(perLink[2][1]).toBeLessThan(perLink[1][1]);
    const fast = ls[6];
    expect(fast[0][1]).toBeGreaterThan(fast[2][1]);
    expect(svg).toContain(">1,000<");
    expect(svg).toContain(">10,000<");
  });

  it("BER: the committed plot is what berSvg draws from the committed results", () => {
    const dir = join(import.meta.dirname, "..");
    const j = JSON.parse(readFileSync(join(dir, "ber.json"), "utf8"));
    expect(berSvg(j.sim, j.qemu)).toBe(readFileSync(join(dir, "ber.svg"), "utf8"));
  });
});
