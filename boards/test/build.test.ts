// Every board and target builds from nothing (a fresh output directory),
// and a wrong PLATFORM or TARGET stops with the list of valid ones.
import { describe, it, expect } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, make } from "./build.ts";
import { readKeyFile } from "./session.ts";

describe("board builds", () => {
  it("builds all three boards for both targets from a clean tree", () => {
    const dir = mkdtempSync(join(tmpdir(), "qn-boards-"));
    try {
      make(["-j2", "boards", `QN_FW_ROOT=${dir}`]);
      for (const target of ["release", "debug"]) {
        for (const board of ["mps2-an500", "stm32h743"]) {
          for (const ext of ["elf", "bin", "hex", "map"]) {
            const f = join(dir, board, target, `qn.${ext}`);
            expect(existsSync(f), f).toBe(true);
            expect(statSync(f).size, f).toBeGreaterThan(0);
          }
          const image = JSON.parse(readFileSync(join(dir, board, target, "image.json"), "utf8"));
          expect(image.image_bytes).toBe(statSync(join(dir, board, target, "qn.bin")).size);
          // No heap in the link: the map shows neither malloc nor _sbrk.
          const nm = execFileSync("arm-none-eabi-nm", [join(dir, board, target, "qn.elf")], { encoding: "utf8" });
          expect(nm).not.toMatch(/ (malloc|_malloc_r|_sbrk)$/m);
        }
        expect(existsSync(join(dir, "posix", target, "qn"))).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it("keeps the pre-shared key out of the build log and the map, and refuses a malformed key file", () => {
    const dir = mkdtempSync(join(tmpdir(), "qn-key-"));
    try {
      const keyFile = join(dir, "device.hex");
      const key = Buffer.from("5ec2e7c0ffee00112233445566778899aabbccddeeff0102030405060708090a", "hex");
      writeFileSync(keyFile, `# test key\n${key.toString("hex")}\n`);
      const log = make([
        "PLATFORM=mps2-an500",
        "TARGET=release",
        "firmware",
        `QN_FW_ROOT=${dir}`,
        `QN_PSK_FILE=${keyFile}`,
      ]);
      const map = readFileSync(join(dir, "mps2-an500/release/qn.map"), "latin1");
      for (const text of [log, map]) {
        expect(text).not.toContain(key.toString("hex"));
        expect(text.toLowerCase()).not.toContain("0x5e,0xc2,0xe7");
      }
      // The key is in the image (that is where it must be), nowhere else.
      const bin = readFileSync(join(dir, "mps2-an500/release/qn.bin"));
      expect(bin.includes(key)).toBe(true);
      expect(bin.includes(Buffer.from(readKeyFile()))).toBe(false);
      // A bad key file stops the build with a clear message.
      writeFileSync(keyFile, "not hex\n");
      expect(() => make(["PLATFORM=mps2-an500", "firmware", `QN_FW_ROOT=${dir}`, `QN_PSK_FILE=${keyFile}`])).toThrow(
        /hex digits/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it("rejects an unknown PLATFORM or TARGET and lists the valid ones", () => {
    const p = spawnSync("make", ["PLATFORM=nucleo-f4", "firmware"], { cwd: ROOT, encoding: "utf8" });
    expect(p.status).not.toBe(0);
    expect(p.stderr).toMatch(/unknown PLATFORM 'nucleo-f4'.*mps2-an500 stm32h743 posix/);
    const t = spawnSync("make", ["PLATFORM=posix", "TARGET=fast", "firmware"], { cwd: ROOT, encoding: "utf8" });
    expect(t.status).not.toBe(0);
    expect(t.stderr).toMatch(/unknown TARGET 'fast'.*debug release/);
  });

  it("keeps each PLATFORM/TARGET in its own directory", () => {
    make(["PLATFORM=mps2-an500", "TARGET=release", "firmware"]);
    make(["PLATFORM=mps2-an500", "TARGET=debug", "firmware"]);
    const rel = join(ROOT, "build/mps2-an500/release/obj/sdk/src/qn_loop.o");
    const dbg = join(ROOT, "build/mps2-an500/debug/obj/sdk/src/qn_loop.o");
    expect(existsSync(rel) && existsSync(dbg)).toBe(true);
    // Different flags, different objects: -O2 release vs -Og debug.
    expect(statSync(rel).size).not.toBe(statSync(dbg).size);
  }, 120_000);
});
