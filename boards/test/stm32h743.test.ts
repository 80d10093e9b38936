// The STM32H743 firmware cannot run here; check what the chip needs from
// the ELF: vector table at 0x08000000, initial SP in DTCM, reset handler in
// flash (Thumb), every section inside the chip's memories, nothing placed
// in the journal's flash sectors (bank 2 sectors 6 and 7), and an image
// without gaps whose bounds are what qn.bin and image.json describe.
import { describe, it, expect, beforeAll } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { crc32c } from "../../tools/crc32c.mjs";
import { buildFirmware } from "./build.ts";

const FLASH = [0x08000000, 0x08000000 + 2048 * 1024];
const STORAGE = [0x081c0000, 0x08200000]; // bank 2 sectors 6 and 7, 128 KiB each
const DTCM = [0x20000000, 0x20000000 + 128 * 1024];
const AXI = [0x24000000, 0x24000000 + 512 * 1024];
const inside = (a: number, end: number, r: number[]) => a >= r[0] && end <= r[1];

for (const target of ["release", "debug"] as const) {
  describe(`stm32h743 ${target} ELF`, () => {
    let elf = "";
    beforeAll(() => {
      elf = buildFirmware("stm32h743", target);
    }, 300_000);

    const sections = () => {
      const out = execFileSync("arm-none-eabi-readelf", ["-SW", elf], { encoding: "utf8" });
      return [...out.matchAll(/\]\s+(\S+)\s+(\S+)\s+([0-9a-f]{8})\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+(\S*A\S*)/g)].map(
        (m) => ({ name: m[1], type: m[2], addr: parseInt(m[3], 16), size: parseInt(m[4], 16) }),
      );
    };
    const symbol = (name: string) => {
      const m = new RegExp(`^([0-9a-f]+) \\w ${name}$`, "m").exec(
        execFileSync("arm-none-eabi-nm", [elf], { encoding: "utf8" }),
      );
      if (!m) throw new Error(`${name} not in ${elf}`);
      return parseInt(m[1], 16);
    };

    it("has its vector table at 0x08000000 with SP in DTCM and the reset handler in flash", () => {
      const vt = sections().find((s) => s.name === ".isr_vector")!;
      expect(vt.addr).toBe(0x08000000);
      // 166 vectors, padded inside the section up to .text's alignment.
      expect(vt.size).toBeGreaterThanOrEqual((16 + 150) * 4);
      expect(vt.size).toBeLessThan((16 + 150) * 4 + 64);
      const bin = readFileSync(elf.replace(/\.elf$/, ".bin")); // starts at 0x08000000
      const sp = bin.readUInt32LE(0),
        reset = bin.readUInt32LE(4);
      expect(sp).toBe(symbol("_estack"));
      expect(inside(sp - 8, sp, DTCM)).toBe(true);
      expect(reset & 1).toBe(1); // Thumb
      expect(reset & ~1).toBe(symbol("Reset_Handler"));
      expect(inside(reset & ~1, reset & ~1, [FLASH[0], STORAGE[0]])).toBe(true);
      const readelfH = execFileSync("arm-none-eabi-readelf", ["-h", elf], { encoding: "utf8" });
      expect(parseInt(/Entry point address:\s+0x([0-9a-f]+)/.exec(readelfH)![1], 16)).toBe(reset);
    });

    it("fits the chip's memories and keeps the storage sector free", () => {
      const all = sections();
      expect(all.length).toBeGreaterThan(3);
      for (const s of all) {
        const end = s.addr + s.size;
        const ok = inside(s.addr, end, [FLASH[0], STORAGE[0]]) || inside(s.addr, end, DTCM) || inside(s.addr, end, AXI);
        expect(ok, `${s.name} at 0x${s.addr.toString(16)} (+${s.size})`).toBe(true);
      }
      // .data is loaded from flash: its load image must also be in flash.
      const ph = execFileSync("arm-none-eabi-readelf", ["-lW", elf], { encoding: "utf8" });
      for (const m of ph.matchAll(/LOAD\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)/g)) {
        const phys = parseInt(m[2], 16),
          filesz = parseInt(m[3], 16);
        if (filesz > 0) expect(inside(phys, phys + filesz, [FLASH[0], STORAGE[0]])).toBe(true);
      }
      expect(symbol("qn_storage_start")).toBe(STORAGE[0]);
      expect(STORAGE[0] % (256 * 1024)).toBe(0); // one MPU region covers it
    });

    it("describes its image exactly as qn.bin holds it (image.json)", () => {
      const bin = readFileSync(elf.replace(/\.elf$/, ".bin"));
      const image = JSON.parse(readFileSync(elf.replace(/qn\.elf$/, "image.json"), "utf8"));
      expect(symbol("qn_image_start")).toBe(FLASH[0]);
      expect(symbol("qn_image_end") - symbol("qn_image_start")).toBe(bin.length);
      expect(image).toEqual({ image_crc32c: crc32c(bin), image_bytes: bin.length });
    });
  });
}

describe("OpenOCD", () => {
  it("knows the Nucleo-H743ZI board config that `make flash` uses", () => {
    // Parses the board and target scripts; needs no probe attached.
    const p = spawnSync("openocd", ["-f", "board/st_nucleo_h743zi.cfg", "-c", "echo qn-config-ok; shutdown"], {
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(p.status).toBe(0);
    expect(p.stdout + p.stderr).toContain("qn-config-ok");
  });
});
