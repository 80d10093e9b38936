// examples/host/talk.ts as a user runs it, against the mps2-an500 firmware
// in QEMU: the script imports only the package ("qn"), holds a session,
// publishes, and prints the board's echo. The README shows the same script,
// character for character. QEMU and the script are stopped by pid on every
// exit path.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildFirmware, ROOT } from "../../../boards/test/build.ts";
import { Qemu } from "../../../host/qemu.ts";

const SCRIPT = join(ROOT, "examples/host/talk.ts");

/** Run the example on `port`; its exit code and output (killed after `ms`). */
function runExample(port: string, ms: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", SCRIPT, port], { cwd: ROOT });
    let out = "",
      err = "";
    child.stdout!.on("data", (b) => (out += b));
    child.stderr!.on("data", (b) => (err += b));
    const timer = setTimeout(() => child.pid && process.kill(child.pid, "SIGKILL"), ms);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

describe("examples/host/talk.ts", () => {
  let q: Qemu | undefined;

  beforeAll(async () => {
    const elf = buildFirmware("mps2-an500", "release");
    q = await Qemu.start({ elf });
    // The firmware speaks only when spoken to, so it may run before the
    // script opens the pty.
    await q.cont();
  });

  afterAll(async () => {
    await q?.stop(); // by pid
  });

  it("holds a session with the QEMU board and prints its echo", async () => {
    const r = await runExample(q!.pty, 25_000);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^session up in \d+ µs, sent packet \d+, echo on channel 1 at QoS 1:\nhello, board\n$/);
  });

  it("is the script the README shows", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(readme).toContain("```ts\n" + readFileSync(SCRIPT, "utf8") + "```");
  });
});
