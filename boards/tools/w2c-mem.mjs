// Inserts `#include "qn_w2c_mem.h"` into wasm2c's qn.c just before its
// first DEFINE_LOAD use, so our fixed-memory accessors replace wasm2c's
// generic ones (see boards/common/qn_w2c_mem.h for why). Refuses a module
// the accessors would be wrong for: more than one memory, or none.
// Usage: node boards/tools/w2c-mem.mjs qn.c
import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2];
const src = readFileSync(file, "utf8");
const fail = (why) => { console.error(`w2c-mem: ${file}: ${why}`); process.exit(1); };

const anchor = "DEFINE_LOAD(i32_load, u32, u32, u32)";
if (src.split(anchor).length !== 2) fail(`expected exactly one "${anchor}" (wasm2c output changed?)`);
const memories = src.match(/wasm_rt_allocate_memory\(/g) ?? [];
if (memories.length !== 1) fail(`expected one linear memory, found ${memories.length}`);
if (src.includes("qn_w2c_mem.h")) process.exit(0); // already patched
writeFileSync(file, src.replace(anchor, `#include "qn_w2c_mem.h" /* inserted by boards/tools/w2c-mem.mjs */\n${anchor}`));
