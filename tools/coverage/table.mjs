// make coverage's table: the TypeScript figures (vitest's json-summary, per
// top directory and in all) and the core's (core-report.mjs), each against
// its floor in coverage-floors.json; exits 1 when one is below.
// Usage: node tools/coverage/table.mjs <coverage-floors.json> <ts coverage-summary.json> <core-summary.json>
import { readFileSync } from "node:fs";
import { relative } from "node:path";

const [floorsPath, tsPath, corePath] = process.argv.slice(2);
if (!corePath) {
  console.error("usage: table.mjs <coverage-floors.json> <ts coverage-summary.json> <core-summary.json>");
  process.exit(2);
}
const read = (p) => JSON.parse(readFileSync(p, "utf8"));
const floors = read(floorsPath);
const ts = read(tsPath);
const core = read(corePath);

const pct = ({ covered, total }) => (total === 0 ? 100 : Math.round((1000 * covered) / total) / 10);
const rows = [];
const row = (part, figure, counts, floor) => rows.push({ part, figure, counts, floor });

// vitest's summary: { total: {...}, "<absolute path>": { lines: { total, covered }, branches: ... } }.
const dirs = new Map();
for (const [file, s] of Object.entries(ts)) {
  if (file === "total") continue;
  const dir = relative(process.cwd(), file).split("/")[0];
  const d = dirs.get(dir) ?? { lines: { covered: 0, total: 0 }, branches: { covered: 0, total: 0 } };
  for (const k of ["lines", "branches"]) {
    d[k].covered += s[k].covered;
    d[k].total += s[k].total;
  }
  dirs.set(dir, d);
}
for (const k of ["lines", "branches"]) {
  for (const [dir, d] of [...dirs].sort(([a], [b]) => a.localeCompare(b))) row(`ts ${dir}/`, k, d[k]);
  row("ts total", k, ts.total[k], floors.ts[k]);
}
for (const k of ["functions", "lines", "regions", "branches"]) row("core total", k, core.total[k], floors.core[k]);

let below = 0;
console.log(
  `coverage: ${"part".padEnd(15)} ${"figure".padEnd(10)} ${"now".padStart(6)} ${"covered".padStart(13)}  floor`,
);
for (const r of rows) {
  const now = pct(r.counts);
  const low = r.floor !== undefined && now < r.floor;
  if (low) below++;
  const floor = r.floor === undefined ? "" : `${r.floor.toFixed(1)}%${low ? "  BELOW THE FLOOR" : ""}`;
  console.log(
    `coverage: ${r.part.padEnd(15)} ${r.figure.padEnd(10)} ${`${now.toFixed(1)}%`.padStart(6)} ${`${r.counts.covered}/${r.counts.total}`.padStart(13)}  ${floor}`,
  );
}
if (below > 0) {
  console.error(`coverage: ${below} figure(s) below the floor (${floorsPath})`);
  process.exit(1);
}
