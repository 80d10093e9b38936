// `make sdk` for both ARM boards: each SDK folder, copied to a temporary
// directory, builds both examples against that copy alone (no file of the
// build names the repository) and links them for its board. The
// STM32H743 images are only linked here: they never run in these tests
// (no hardware on the test machine). `make run` in an example gives QEMU's
// command on the board QEMU emulates and refuses on the other.
import { describe, it, expect } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { sdkCopy, buildExample, filesNamingRepo } from "./sdk-build.ts";
import { make } from "../../boards/test/build.ts";

const entry = (elf: string) => execFileSync("arm-none-eabi-readelf", ["-h", elf], { encoding: "utf8" });

describe("make sdk", () => {
  for (const [platform, flashBase] of [
    ["mps2-an500", 0x0],
    ["stm32h743", 0x08000000],
  ] as const) {
    it(`${platform}: both examples build and link against a copy of the SDK alone`, () => {
      const sdk = sdkCopy(platform);
      for (const f of ["include/qn.h", "include/qn_abi.h", "include/qn_port.h", "lib/libqn.a", "lib/libqn_board.a"])
        expect(existsSync(join(sdk, f)), f).toBe(true);
      expect(readFileSync(join(sdk, "qn_board.mk"), "utf8")).toContain(`QN_PLATFORM := ${platform}`);
      for (const app of ["echo", "telemetry"]) {
        const out = buildExample(sdk, app, platform);
        const elf = join(out, `${app}.elf`);
        expect(existsSync(elf), elf).toBe(true);
        expect(existsSync(join(out, "image.json"))).toBe(true);
        expect(filesNamingRepo(out)).toEqual([]);
        // Linked for the board: the entry point lies in its flash.
        const e = Number(/Entry point address:\s+(0x[0-9a-f]+)/.exec(entry(elf))?.[1]);
        expect(e >= flashBase && e < flashBase + 0x200000, `${app} entry ${e.toString(16)}`).toBe(true);
      }
      // make run: QEMU for the board it emulates, a clear refusal for hardware.
      // -n on the QEMU board: QEMU is not started here.
      const dry = platform === "mps2-an500" ? ["-n"] : [];
      const run = spawnSync(
        "make",
        ["--no-print-directory", ...dry, "-C", join(sdk, "examples/echo"), `QN_SDK_ROOT=${sdk}`, "run"],
        { encoding: "utf8" },
      );
      if (platform === "mps2-an500") {
        expect(run.status, run.stderr).toBe(0);
        expect(run.stdout).toMatch(
          /^qemu-system-arm -M mps2-an500 .*-serial pty -kernel build\/mps2-an500\/echo\.elf$/m,
        );
      } else {
        expect(run.status).not.toBe(0);
        expect(run.stderr).toContain(
          `qn.mk: ${platform} runs on hardware, not in QEMU: flash build/${platform}/echo.elf`,
        );
      }
    }, 300_000);
  }

  it("builds every generated file it copies (a fresh checkout has none of build/)", () => {
    // -q runs nothing (its status says whether sdk is up to date); -p prints the rules.
    const db = spawnSync("make", ["-qp", "PLATFORM=mps2-an500", "sdk"], {
      encoding: "utf8",
      maxBuffer: 64 << 20,
    }).stdout;
    const copied = /^SDK_SELFTEST_FILES := (.*)$/m.exec(db)?.[1].split(" ") ?? [];
    const prereqs = /^sdk: (.*)$/m.exec(db)?.[1].split(" ") ?? [];
    const generated = copied.filter((f) => f.startsWith("build/"));
    expect(generated.length).toBeGreaterThan(0);
    expect(generated.filter((f) => !prereqs.includes(f))).toEqual([]);
  });

  it("says which boards there are when PLATFORM is missing", () => {
    expect(() => make(["sdk"])).toThrow(/set PLATFORM to one of/);
  });
});
