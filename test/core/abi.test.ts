// The module and its C face: valid, no memory.grow, imports only the
// documented host functions, and a qn_api.h that compiles with -Werror.
import { describe, it, expect } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../host/status.ts";
import { readImports, readExports } from "../../tools/abi-source.mjs";
import { raw } from "../support/raw-core.ts";

const wasms = ["build/qn.wasm", "build/debug/qn.wasm"].map((p) => join(ROOT, p));

describe("qn.wasm", () => {
  for (const w of wasms) {
    it(`${w.replace(ROOT + "/", "")} validates, never grows memory, imports only documented functions`, () => {
      execFileSync("wasm-validate", [w]);
      const dis = execFileSync("wasm-objdump", ["-d", w], { maxBuffer: 64 << 20 }).toString();
      expect(dis.length).toBeGreaterThan(1000);
      expect(dis).not.toMatch(/memory\.grow/);
      const mod = new WebAssembly.Module(readFileSync(w));
      const documented = new Set(readImports(ROOT).map((i) => `${i.module}.${i.name}`));
      for (const i of WebAssembly.Module.imports(mod))
        expect(documented.has(`${i.module}.${i.name}`), `${i.module}.${i.name}`).toBe(true);
      const mem = WebAssembly.Module.exports(mod).find((e) => e.name === "memory");
      expect(mem).toBeTruthy();
    });
  }
  it("has one page of memory, fixed (initial = maximum)", () => {
    const text = execFileSync("wasm-objdump", ["-x", wasms[0]]).toString();
    expect(text).toMatch(/memory\[0\] pages: initial=1 max=1/);
  });
});

describe("qn_api.h", () => {
  it("declares every export (qn_core_*; the probes in qn_probe.h) and compiles with -std=c11 -Wall -Wextra -Werror", () => {
    const h = readFileSync(join(ROOT, "build/qn_api.h"), "utf8");
    const probe = readFileSync(join(ROOT, "build/qn_probe.h"), "utf8");
    expect(h).toMatch(/DO NOT EDIT/);
    const exps = readExports(ROOT);
    expect(exps.filter((e) => e.probe).map((e) => e.name)).toContain("qn_sha256");
    for (const e of exps) {
      const c = ` ${e.name.replace(/^qn_/, "qn_core_")}(`;
      // Each in exactly one of the two: applications never see the probes.
      expect(e.probe ? probe : h, e.name).toContain(c);
      expect(e.probe ? h : probe, e.name).not.toContain(c);
    }
    const dir = mkdtempSync(join(tmpdir(), "qn-api-"));
    const src = join(dir, "use.c");
    writeFileSync(
      src,
      `#include "qn_api.h"
#include <stdio.h>
int main(void) {
  printf("%s %s %u\\n", QN_VERSION, qn_status_str(QN_ERR_CRC), (unsigned)QN_WASM_CRC32C);
  int32_t (*init)(void) = qn_core_init; (void)init;
  return qn_status_str(-999)[0] == 'u' ? 0 : 1;
}
`,
    );
    execFileSync("gcc", [
      "-std=c11",
      "-Wall",
      "-Wextra",
      "-Werror",
      "-I",
      join(ROOT, "build"),
      "-o",
      join(dir, "use"),
      src,
      "-Wl,--unresolved-symbols=ignore-all",
    ]);
    const out = execFileSync(join(dir, "use")).toString();
    expect(out).toMatch(/^\d+\.\d+\.\d+ ERR_CRC: frame CRC-32C mismatch \d+/);
  });
});

describe("build manifest", () => {
  it("matches the module: build id, CRC, heap base", async () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, "build/manifest.json"), "utf8"));
    const bytes = readFileSync(wasms[0]);
    const { loadCore } = await import("../../host/core.ts");
    const core = loadCore();
    const { crc32c } = await import("../../tools/crc32c.mjs");
    expect(manifest.build_id).not.toBe(0);
    expect(core.buildId()).toBe(manifest.build_id);
    expect(manifest.wasm_crc32c).toBe(crc32c(bytes));
    expect(manifest.heap_base).toBe(raw(core).x.qn_heap_base());
    expect(readFileSync(join(ROOT, "build/qn_abi.h"), "utf8")).toContain(
      `QN_BUILD_ID 0x${manifest.build_id.toString(16).padStart(8, "0").toUpperCase()}u`,
    );
  });
});
