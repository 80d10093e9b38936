// qn_selftest --port against a board it was not told the platform of: the
// emulated Cortex-M7 behind its pty, reached as a serial port. The selftest
// must compare the device with the build of the platform the device reports,
// and refuse a --platform that names another board.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../host/status.ts";
import { Qemu } from "../../host/qemu.ts";

const ELF = join(ROOT, "build/mps2-an500/release/qn.elf");
const BIN = join(ROOT, "qn_selftest");

function selftest(args: string[]) {
  return spawnSync(BIN, args, { encoding: "utf8", timeout: 60_000 });
}

describe.skipIf(!existsSync(ELF))("qn_selftest --port: the platform the device reports", () => {
  let q: Qemu;
  beforeAll(async () => {
    q = await Qemu.start({ elf: ELF });
    // The firmware writes only in answer to a request, so nothing is lost
    // by letting it run before qn_selftest opens the pty.
    await q.cont();
  });
  afterAll(async () => {
    await q?.stop();
  });

  it("without --platform: compares the device with its own platform's build (mps2-an500)", () => {
    const r = selftest(["--port", q.pty, "--output=json", "--mode=quick", "--only", "boot.identity,core.integrity"]);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.platform).toBe("mps2-an500");
    expect(report.tests.map((t: any) => [t.id, t.status, t.detail])).toEqual([
      ["boot.identity", "PASS", expect.stringMatching(/^mps2-an500 runs QN/)],
      ["core.integrity", "PASS", expect.stringMatching(/firmware image CRC-32C matches the build/)],
    ]);
  });

  it("--platform naming another board than the device reports: exit 2, saying which is which", () => {
    const r = selftest(["--port", q.pty, "--output=json", "--platform", "stm32h743", "--only", "core.integrity"]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(new RegExp(`--platform stm32h743, but the device on ${q.pty} reports mps2-an500`));
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("--platform naming the board the device reports: runs", () => {
    const r = selftest(["--port", q.pty, "--output=json", "--platform", "mps2-an500", "--only", "core.integrity"]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).tests[0].status).toBe("PASS");
  });
});
