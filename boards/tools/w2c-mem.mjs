// Inserts `#include "qn_w2c_mem.h"` into wasm2c's qn_w2c.c just before its
// first DEFINE_LOAD use, so our fixed-memory accessors replace wasm2c's
// generic ones, and rewrites every `load(&instance->w2c_memory,
// (u64)(base) + offset` into `load_at(base, offset` (a u32 base and a
// constant offset: see boards/common/qn_w2c_mem.h for why). Refuses a
// module the accessors would be wrong for: more than one memory, or none.
// Usage: node boards/tools/w2c-mem.mjs qn.c
import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2];
const src = readFileSync(file, "utf8");
const fail = (why) => {
  console.error(`w2c-mem: ${file}: ${why}`);
  process.exit(1);
};

const anchor = "DEFINE_LOAD(i32_load, u32, u32, u32)";
if (src.split(anchor).length !== 2) fail(`expected exactly one "${anchor}" (wasm2c output changed?)`);
const memories = src.match(/wasm_rt_allocate_memory\(/g) ?? [];
if (memories.length !== 1) fail(`expected one linear memory, found ${memories.length}`);
if (src.includes("qn_w2c_mem.h")) process.exit(0); // already patched
const access =
  /\b((?:i32|i64|f32|f64)_(?:load|store)(?:8|16|32)?(?:_[su])?)\(&instance->w2c_memory, \(u64\)\((w2c_\w+)\)(?: \+ (\d+)u?)?(?=[,)])/g;
let rewritten = 0;
const out = src
  .replace(anchor, `#include "qn_w2c_mem.h" /* inserted by boards/tools/w2c-mem.mjs */\n${anchor}`)
  .replace(access, (_, name, base, off) => {
    rewritten++;
    return `${name}_at(${base}, ${off ?? 0}u`;
  });
// Any access left in the old form still works (the u64 accessors stay), but
// would be slower: say so, so a wasm2c change does not go unnoticed.
const left = (out.match(/_(?:load|store)[0-9a-z_]*\(&instance->w2c_memory, /g) ?? []).length;
if (left > 0) console.error(`w2c-mem: ${file}: ${left} memory accesses not rewritten (new wasm2c output form?)`);
console.error(`w2c-mem: ${rewritten} memory accesses rewritten to the u32 form`);
writeFileSync(file, out);
