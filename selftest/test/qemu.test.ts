// The README's main command against the emulated Cortex-M7: qn_selftest
// boots the QEMU board itself, runs all 17 checks, and always stops QEMU.
import { describe, it, expect } from "vitest";
import { spawnSync, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../host/status.ts";
import { validateReport } from "./schema.ts";
import { pinnedStatuses, statuses } from "./pinned.ts";

const ELF = join(ROOT, "build/mps2-an500/release/qn.elf");

function qemuPids(): string[] {
  try {
    return execFileSync("pgrep", ["-f", `qemu-system-arm.*${ELF}`])
      .toString()
      .trim()
      .split("\n")
      .filter(Boolean);
  } catch {
    return [];
  }
}

describe.skipIf(!existsSync(ELF))("qn_selftest --target qemu", () => {
  it("full mode: schema-valid report, all 17 checks PASS by id, none skipped, QEMU stopped", () => {
    const before = qemuPids();
    const r = spawnSync(join(ROOT, "qn_selftest"), ["--mode=full", "--output=json", "--target", "qemu"], {
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
    expect(report.target).toBe("qemu");
    expect(report.platform).toBe("mps2-an500");
    expect(report.firmware.clock_hz).toBe(25_000_000);
    expect(report.tests).toHaveLength(17);
    // Every check runs on the emulated board: all 17 PASS, none skipped.
    const notPassed = report.tests.filter((t: any) => t.status !== "PASS");
    expect(statuses(report), JSON.stringify(notPassed, null, 1)).toEqual(pinnedStatuses());
    expect(report.summary).toEqual({ passed: 17, failed: 0, skipped: 0 });
    expect(report.health_status).toBe("PASS");
    console.log(
      `qemu selftest: ${report.health_status}, ${report.summary.passed} passed, ${report.summary.skipped} skipped, max_latency_us ${report.max_latency_us}`,
    );
    expect(qemuPids().filter((p) => !before.includes(p))).toEqual([]);
  }, 150_000);
});
