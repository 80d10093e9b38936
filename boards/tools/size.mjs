// `make size`: flash and RAM of one firmware against the release budget.
//   flash = vector table + code + constants + .data initialisers
//   RAM   = main stack + .data + .bss + .noinit (incl. the Wasm linear memory)
// Journal storage is a reserved flash region outside both (QEMU: the top of
// the code region, STM32H743: bank 2 sectors 6-7), so it is not counted. A release build over budget fails. Each run is remembered per
// feature set, so `make size QN_FEAT_JSON=0` shows what switching off saved.
// Usage: node boards/tools/size.mjs <platform> <target> <elf> <ram budget> <flash budget>
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";

const [platform, target, elf, ramBudget, flashBudget] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync("build/manifest.json", "utf8"));
const featTag = Object.entries(manifest.features)
  .map(([k, v]) => `${k.replace("QN_FEAT_", "").toLowerCase()}${v}`)
  .join("-");
const allOn = Object.values(manifest.features).every((v) => v === 1);
const arm = platform !== "posix";
const kib = (n) => `${n} B (${(n / 1024).toFixed(1)} KiB)`;

const addr = {};
function sections() {
  const out = execFileSync(arm ? "arm-none-eabi-size" : "size", ["-A", elf], { encoding: "utf8" });
  const s = {};
  for (const m of out.matchAll(/^(\.\S+)\s+(\d+)\s+(\d+)/gm)) {
    s[m[1]] = Number(m[2]);
    addr[m[1]] = Number(m[3]);
  }
  return s;
}

/* Bytes a group of sections spans, alignment gaps included. */
function span(names) {
  const present = names.filter((n) => s[n] > 0);
  if (!present.length) return 0;
  return Math.max(...present.map((n) => addr[n] + s[n])) - Math.min(...present.map((n) => addr[n]));
}

function symbolSize(name) {
  const out = execFileSync(arm ? "arm-none-eabi-nm" : "nm", ["-S", elf], { encoding: "utf8" });
  const m = new RegExp(`^[0-9a-f]+ ([0-9a-f]+) \\w ${name}$`, "m").exec(out);
  return m ? parseInt(m[1], 16) : 0;
}

const s = sections();
const get = (n) => s[n] ?? 0;
const linear = symbolSize("qn_linear_mem");
let fig;
if (arm) {
  fig = {
    flash: span([".isr_vector", ".text", ".ARM.exidx"]) + get(".data"),
    ram: span([".stack", ".data", ".bss", ".noinit"]),
    text: get(".isr_vector") + get(".text") + get(".ARM.exidx"),
    data: get(".data"),
    bss: get(".bss") + get(".noinit"),
    stack: get(".stack"),
    linear,
    storage: 0,
  };
} else {
  const text =
    get(".text") + get(".rodata") + get(".init") + get(".fini") + get(".plt") + get(".plt.got") + get(".plt.sec");
  fig = {
    flash: text + get(".data"),
    ram: get(".data") + get(".bss"),
    text,
    data: get(".data"),
    bss: get(".bss"),
    stack: 0,
    linear,
    storage: 0,
  };
}

console.log(
  `size: ${platform} ${target} (${elf}), core ${manifest.wasm_bytes} B wasm, heap_base ${manifest.heap_base}, features ${featTag}`,
);
console.log(
  `  text ${fig.text}  data ${fig.data}  bss ${fig.bss}  (Wasm linear memory ${fig.linear}, main stack ${fig.stack}${fig.storage ? `, storage stand-in ${fig.storage} not counted` : ""})`,
);
let over = false;
if (arm) {
  const fb = Number(flashBudget),
    rb = Number(ramBudget);
  const mark = (v, b) => (v <= b ? "ok" : "OVER");
  console.log(`  flash ${kib(fig.flash)} of ${kib(fb)} budget: ${mark(fig.flash, fb)}`);
  console.log(`  RAM   ${kib(fig.ram)} of ${kib(rb)} budget: ${mark(fig.ram, rb)}`);
  over = fig.flash > fb || fig.ram > rb;
} else {
  console.log(
    `  host process: code ${kib(fig.text)}, static RAM ${kib(fig.ram)} (no budget: the budget is for the MCU boards)`,
  );
}

const dir = dirname(elf);
writeFileSync(join(dir, `size-${featTag}.json`), JSON.stringify({ ...fig, wasm: manifest.wasm_bytes }));
const full = join(
  dir,
  `size-${Object.keys(manifest.features)
    .map((k) => `${k.replace("QN_FEAT_", "").toLowerCase()}1`)
    .join("-")}.json`,
);
if (!allOn && existsSync(full)) {
  const f = JSON.parse(readFileSync(full, "utf8"));
  console.log(
    `  saving vs all features on: flash ${f.flash - fig.flash} B, RAM ${f.ram - fig.ram} B, wasm ${f.wasm - manifest.wasm_bytes} B`,
  );
} else if (!allOn) {
  console.log("  (run `make size` with all features on first to see the saving)");
}
if (over && target === "release") {
  console.error(`size: ${platform} release exceeds the budget`);
  process.exit(1);
}
if (over) console.log("  (debug build: the budget applies to release)");
