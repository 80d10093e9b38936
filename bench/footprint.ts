// Footprint: `make size` for mps2-an500 and stm32h743 (flash, RAM, linear
// memory; boards/tools/size.mjs writes the figures to
// build/<board>/release/size-<features>.json), the stack high-water and
// boot cost of the QEMU board (boards/tools/measure.ts), the wasm size.
// Usage: node --import tsx bench/footprint.ts   (prints JSON)
import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { measure } from "../boards/tools/measure.ts";

function sizeOf(platform: string) {
  const m = JSON.parse(readFileSync("build/manifest.json", "utf8"));
  const tag = Object.entries(m.features)
    .map(([k, v]) => `${k.replace("QN_FEAT_", "").toLowerCase()}${v}`)
    .join("-");
  let text = "";
  try {
    text = execFileSync(
      "node",
      ["boards/tools/size.mjs", platform, "release", `build/${platform}/release/qn.elf`, "24576", "65536"],
      { encoding: "utf8" },
    );
  } catch (e: any) {
    text = String(e.stdout ?? "") + String(e.stderr ?? "");
  }
  const fig = JSON.parse(readFileSync(`build/${platform}/release/size-${tag}.json`, "utf8"));
  return { ...fig, size_report: text.trim().split("\n") };
}

export async function runFootprint() {
  const m = await measure("build/mps2-an500/release/qn.elf");
  return {
    wasm_bytes: statSync("build/qn.wasm").size,
    features: JSON.parse(readFileSync("build/manifest.json", "utf8")).features,
    "mps2-an500": {
      ...sizeOf("mps2-an500"),
      stack_high_water: m.stackUsed,
      stack_size: m.stackSize,
      boot_instructions: m.bootInstructions,
      journal_open_us: m.journalOpenUs,
    },
    stm32h743: {
      ...sizeOf("stm32h743"),
      stack_high_water: "measured on the board only (identity field 13): no hardware here",
    },
    note: "flash = text + data initialisers of the whole firmware (core via wasm2c + runtime + board + main); RAM = data + bss (includes the Wasm linear memory) + main stack.",
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await runFootprint(), null, 2));
  process.exit(0);
}
