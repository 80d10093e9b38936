// A core that does not fit the linear memory the firmware was built with
// must be refused at boot with a clear report on the UART, and QEMU must
// end (semihosting exit, status 1) rather than hang.
import { describe, it, expect } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { make } from "./build.ts";
import { Qemu } from "../../host/qemu.ts";

describe("mps2-an500 boot check", () => {
  it("reports a linear memory too small for the core and exits QEMU", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qn-small-"));
    let q: Qemu | undefined;
    try {
      make(["PLATFORM=mps2-an500", "TARGET=release", "firmware", `QN_FW_ROOT=${dir}`, "QN_LINEAR_MEM_OVERRIDE=4096"]);
      // The UART goes to a file: the firmware exits QEMU right after its
      // report, and a pty loses what the reader had not yet taken.
      const uart = join(dir, "uart.txt");
      q = await Qemu.start({ elf: join(dir, "mps2-an500/release/qn.elf"), serial: { file: uart } });
      await q.cont();
      const exit = await Promise.race([q.exited, new Promise((r) => setTimeout(() => r("timeout"), 20_000))]);
      expect(exit).toEqual({ code: 1, signal: null });
      const text = readFileSync(uart, "latin1");
      expect(text).toMatch(/qn: fatal: .*0x[0-9a-f]{8}/);
      expect(text).toMatch(/core trapped while starting|needs more linear memory/);
    } finally {
      await q?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
