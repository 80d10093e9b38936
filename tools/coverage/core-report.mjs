// The core's coverage per assembly/ file, from llvm-cov over the wasm2c C of
// the core (coverage.mk), checked against the core floors.
//
// wasm2c names each C function "w2c_" + its Wasm name with every character
// outside [A-Za-z0-9_] made "_"; the Wasm names (the name section of
// qn-named.wasm) are AssemblyScript's "assembly/<file>/<function>", which
// gives the file. Counted: the core's own functions (assembly/), not the
// AssemblyScript runtime and standard library (~lib, ~start) nor wasm2c's
// runtime (loads, stores, export wrappers). Figures:
// - functions: entered at least once;
// - lines: llvm-cov's line coverage of the function (llvm-cov report);
// - regions and branches: clang's code regions and branch outcomes written
//   in the function itself (file id 0 of its mapping), not those of the
//   wasm2c macros it expands: every function's prologue expands a stack
//   depth check whose trap branch never runs, which would count against
//   every function alike.
// Usage: node tools/coverage/core-report.mjs <qn-named.wasm> <llvm-cov export
//   JSON> <llvm-cov report -show-functions text> <coverage-floors.json> <out.json>
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const [wasmPath, exportPath, reportPath, floorsPath, outPath] = process.argv.slice(2);
if (!outPath) {
  console.error("usage: core-report.mjs <qn-named.wasm> <export.json> <report.txt> <floors.json> <out.json>");
  process.exit(2);
}
const fail = (why) => {
  console.error(`coverage: core: ${why}`);
  process.exit(1);
};

/** Function index -> name, from the Wasm name section (subsection 1). */
function wasmFunctionNames(bytes) {
  let at = 8;
  const leb = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[at++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  };
  const text = (n) => new TextDecoder().decode(bytes.subarray(at, (at += n)));
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb();
    const end = at + size;
    if (id === 0 && text(leb()) === "name") {
      while (at < end) {
        const sub = bytes[at++];
        const subEnd = leb() + at;
        if (sub === 1) {
          const names = new Map();
          for (let n = leb(); n > 0; n--) names.set(leb(), text(leb()));
          return names;
        }
        at = subEnd;
      }
    }
    at = end;
  }
  fail(`${wasmPath} has no function names (built without --debug?)`);
}

/** The assembly/ source file of a Wasm function name, or null (not the core's). */
function sourceFile(name) {
  const path = name.replace(/^start:/, "").split("<")[0];
  if (!path.startsWith("assembly/")) return null;
  const parts = path.split("/");
  for (let k = parts.length - 1; k >= 2; k--) {
    const file = `${parts.slice(0, k).join("/")}.ts`;
    if (existsSync(file)) return file;
  }
  fail(`no assembly/ file for the Wasm function ${name}`);
}

const cName = (wasmName) => `w2c_${wasmName.replace(/[^A-Za-z0-9_]/g, "_")}`;
const stripStatic = (name) => name.replace(/^[^:]*:/, "");

// The core's functions by C name.
const core = new Map();
for (const name of wasmFunctionNames(readFileSync(wasmPath)).values()) {
  const file = sourceFile(name);
  if (file === null) continue;
  const c = cName(name);
  if (core.has(c)) fail(`two Wasm functions map to the C name ${c}`);
  core.set(c, { name, file });
}

// Lines per function: llvm-cov's own table (Name, Regions, Miss, Cover,
// Lines, Miss, Cover, Branches, Miss, Cover).
const lines = new Map();
for (const row of readFileSync(reportPath, "utf8").split("\n")) {
  const cols = row.trim().split(/\s+/);
  if (cols.length !== 10 || !/^\d+$/.test(cols[4])) continue;
  lines.set(stripStatic(cols[0]), { total: Number(cols[4]), missed: Number(cols[5]) });
}

const files = new Map();
const tally = () => ({
  functions: { covered: 0, total: 0 },
  lines: { covered: 0, total: 0 },
  regions: { covered: 0, total: 0 },
  branches: { covered: 0, total: 0 },
});
const found = new Set();
const exported = JSON.parse(readFileSync(exportPath, "utf8"));
for (const fn of exported.data[0].functions) {
  const c = stripStatic(fn.name);
  const info = core.get(c);
  if (!info) continue;
  if (found.has(c)) fail(`${c} appears twice in ${exportPath}`);
  found.add(c);
  const l = lines.get(c);
  if (!l) fail(`${c} is missing from ${reportPath}`);
  const t = files.get(info.file) ?? tally();
  files.set(info.file, t);
  t.functions.total++;
  if (fn.count > 0) t.functions.covered++;
  t.lines.total += l.total;
  t.lines.covered += l.total - l.missed;
  // Region: [line, col, endLine, endCol, count, fileId, expandedFileId, kind]; kind 0 is code.
  for (const r of fn.regions) {
    if (r[5] !== 0 || r[7] !== 0) continue;
    t.regions.total++;
    if (r[4] > 0) t.regions.covered++;
  }
  // Branch: [line, col, endLine, endCol, trueCount, falseCount, fileId, ...]: two outcomes.
  for (const b of fn.branches) {
    if (b[6] !== 0) continue;
    t.branches.total += 2;
    t.branches.covered += (b[4] > 0 ? 1 : 0) + (b[5] > 0 ? 1 : 0);
  }
}
const missing = [...core.keys()].filter((c) => !found.has(c));
if (missing.length > 0) fail(`not in the coverage data (wasm2c naming changed?): ${missing.slice(0, 5).join(", ")}`);

const total = tally();
for (const t of files.values())
  for (const k of Object.keys(total)) {
    total[k].covered += t[k].covered;
    total[k].total += t[k].total;
  }
const pct = ({ covered, total }) => (total === 0 ? 100 : Math.round((1000 * covered) / total) / 10);
const cell = (x) => `${pct(x).toFixed(1).padStart(5)}% ${`${x.covered}/${x.total}`.padStart(9)}`;
const width = Math.max(...[...files.keys()].map((f) => f.length), 5);
console.log(
  `core: ${"file".padEnd(width)}  ${"functions".padEnd(16)}  ${"lines".padEnd(16)}  ${"regions".padEnd(16)}  branches`,
);
for (const [file, t] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
  console.log(
    `core: ${file.padEnd(width)}  ${cell(t.functions)}  ${cell(t.lines)}  ${cell(t.regions)}  ${cell(t.branches)}`,
  );
}
console.log(
  `core: ${"total".padEnd(width)}  ${cell(total.functions)}  ${cell(total.lines)}  ${cell(total.regions)}  ${cell(total.branches)}`,
);

const summary = { total: Object.fromEntries(Object.entries(total).map(([k, v]) => [k, { ...v, pct: pct(v) }])) };
summary.files = Object.fromEntries([...files].map(([f, t]) => [f, t]));
writeFileSync(outPath, `${JSON.stringify(summary, null, 2)}\n`);

const floors = JSON.parse(readFileSync(floorsPath, "utf8")).core;
let below = 0;
for (const [k, floor] of Object.entries(floors)) {
  if (!(k in total)) fail(`${floorsPath}: unknown core figure ${k}`);
  if (pct(total[k]) < floor) {
    console.error(`coverage: core ${k} ${pct(total[k])}% is below its floor ${floor}% (${floorsPath})`);
    below++;
  }
}
if (below > 0) process.exit(1);
