// The selftest as shipped in an SDK folder: from a copy of
// build/sdk/mps2-an500, `make` in tools/selftest builds the echo example
// against the SDK where qn_selftest looks for it, and qn_selftest runs
// from there against it in QEMU. The Node dependencies are linked from the
// repository's node_modules (the folder's `make deps` installs the same
// versions from npm; the tests do not reach the network). The selftest
// runs in a process group of its own, killed by its id on every exit
// path, so the QEMU it starts never outlives the test. In the folder of a
// board QEMU does not emulate, its hints point at --port, not at QEMU.
import { describe, it, expect } from "vitest";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { sdkCopy, ROOT } from "./sdk-build.ts";

function run(
  cmd: string,
  args: string[],
  cwd: string,
  timeoutMs: number,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => {
      out += d;
    });
    p.stderr.on("data", () => {});
    const killGroup = () => {
      try {
        if (p.pid) process.kill(-p.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    };
    const t = setTimeout(killGroup, timeoutMs);
    p.on("close", (code) => {
      clearTimeout(t);
      killGroup(); // anything it left behind in its group
      resolve({ code, out });
    });
  });
}

describe("tools/selftest in the SDK folder", () => {
  it("builds its firmware against the SDK and checks it in QEMU", async () => {
    const sdk = sdkCopy("mps2-an500");
    const here = join(sdk, "tools/selftest");
    symlinkSync(join(ROOT, "node_modules"), join(here, "node_modules"));
    execFileSync("make", ["--no-print-directory"], { cwd: here, stdio: "pipe", timeout: 120_000 });
    const { code, out } = await run(
      "./qn_selftest",
      ["--mode=quick", "--only", "boot.identity,core.integrity,link.handshake", "--target", "qemu", "--output=json"],
      here,
      90_000,
    );
    const report = JSON.parse(out);
    expect(report.tests.map((t: { id: string; status: string }) => `${t.id} ${t.status}`)).toEqual([
      "boot.identity PASS",
      "core.integrity PASS",
      "link.handshake PASS",
    ]);
    expect(code).toBe(0);
  }, 180_000);

  it("in a hardware board's folder, says to test the board with --port", () => {
    const sdk = sdkCopy("stm32h743");
    const here = join(sdk, "tools/selftest");
    symlinkSync(join(ROOT, "node_modules"), join(here, "node_modules"));
    const hint =
      "this SDK folder is for stm32h743, which QEMU does not emulate: test a board running the firmware `make` builds here (build/stm32h743/release/qn.elf) with --port <path>";
    // No target: the in-process core (no QEMU, nothing to kill), and why.
    const sim = spawnSync("./qn_selftest", ["--only", "boot.identity"], {
      cwd: here,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(sim.stderr).toContain(`no target given: using the core in-process (--target sim; ${hint})`);
    expect(sim.status).toBe(0);
    // --target qemu: a usage error (exit 2) before anything starts.
    const qemu = spawnSync("./qn_selftest", ["--target", "qemu", "--only", "boot.identity"], {
      cwd: here,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(qemu.status).toBe(2);
    expect(qemu.stderr).toContain(hint);
  }, 120_000);
});
