// boards/template, the blank port of docs/PORTING.md: every function of
// the port contract (qn_port.h) is there, in the template or in the
// shared Cortex-M7 files it builds with; its stubs fail (so a firmware on
// an unfinished port stops at qn_start instead of running on guesses);
// and `make PLATFORM=template` links a firmware from it.
import { describe, it, expect } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { make, ROOT } from "../../boards/test/build.ts";

const read = (p: string) => readFileSync(join(ROOT, p), "utf8");
const defined = (src: string) => new Set([...src.matchAll(/^[\w ]+?\*?\b(qn_port_\w+)\(.*\) \{/gm)].map((m) => m[1]));

describe("boards/template", () => {
  it("has every qn_port_* of the contract, with the shared Cortex-M7 files", () => {
    const declared = [...read("boards/include/qn_port.h").matchAll(/\b(qn_port_\w+)\(/g)].map((m) => m[1]);
    expect(declared.length).toBeGreaterThan(20);
    const template = defined(read("boards/template/board.c"));
    const common = ["startup_cm7.c", "uart_ring_cm7.c", "systick_cm7.c"].map((f) =>
      defined(read(`boards/common/${f}`)),
    );
    const missing = declared.filter((f) => !template.has(f) && !common.some((c) => c.has(f)));
    expect(missing).toEqual([]);
    // Nothing defined twice (the link would fail on a real port).
    expect([...template].filter((f) => common.some((c) => c.has(f)))).toEqual([]);
  });

  it("fails in every stub that could otherwise pass for working", () => {
    const dir = mkdtempSync(join(tmpdir(), "qn-template-"));
    try {
      const main = join(dir, "main.c");
      writeFileSync(
        main,
        `#include <stdio.h>
#include "qn_port.h"
int main(void) {
  uint8_t b[4];
  printf("%d %d %d %d %d %u\\n", (int)qn_port_init(), (int)qn_port_storage_read(0, b, 4),
         (int)qn_port_storage_write(0, b, 4), (int)qn_port_storage_erase(0), (int)qn_port_entropy(b, 4),
         (unsigned)qn_port_storage_size());
  return 0;
}
`,
      );
      const inc = ["-I", join(ROOT, "boards/include"), "-I", join(ROOT, "boards/common"), "-I", join(ROOT, "build")];
      const exe = join(dir, "t");
      execFileSync("gcc", [
        "-std=gnu11",
        "-Wall",
        "-Wextra",
        "-Werror",
        // The template is ARM code (qn_cm7.h's register addresses): built
        // for the host only to call its stubs.
        "-Wno-int-to-pointer-cast",
        ...inc,
        main,
        join(ROOT, "boards/template/board.c"),
        "-o",
        exe,
      ]);
      const [init, rd, wr, er, ent, size] = execFileSync(exe, { encoding: "utf8" }).trim().split(" ").map(Number);
      expect(init).toBeLessThan(0);
      expect([rd, wr, er, ent].every((s) => s < 0)).toBe(true);
      expect(size).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("links a firmware with make PLATFORM=template", () => {
    make(["PLATFORM=template", "TARGET=release", "firmware"]);
    expect(existsSync(join(ROOT, "build/template/release/qn.elf"))).toBe(true);
    // A new Cortex-M7 board's stack is painted like any other's: make size
    // says it is measured on the board, not that a process has none.
    expect(make(["PLATFORM=template", "TARGET=release", "size"])).toContain(
      "stack high-water: measured on the board only",
    );
  }, 300_000);
});
