// The posix board: the firmware main loop as a Linux process built with
// AddressSanitizer and UBSan (TARGET=debug), driven through its pty.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildFirmware } from "./build.ts";
import { FramePort, T, readProto } from "./wire.ts";

describe("posix board under ASan/UBSan", () => {
  let proc: ChildProcess | undefined;
  let exe = "";
  let port: FramePort | undefined;
  let out = "", err = "";
  const dir = mkdtempSync(join(tmpdir(), "qn-posix-"));
  const flash = join(dir, "flash.bin");

  beforeAll(async () => {
    exe = buildFirmware("posix", "debug");
    proc = spawn(exe, [], { env: { ...process.env, QN_FLASH: flash, ASAN_OPTIONS: "abort_on_error=0:exitcode=66" } });
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (err += d));
    const deadline = Date.now() + 10_000;
    while (!/uart (\/dev\/pts\/\d+)/.test(out)) {
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`no pty from ${exe}: ${out}${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    port = await FramePort.open(/uart (\/dev\/pts\/\d+)/.exec(out)![1]);
    await port.warmUp(5000);
  }, 300_000);

  afterAll(async () => {
    await port?.close();
    if (proc && proc.exitCode === null) proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("was built with the sanitizers", () => {
    const needed = execFileSync("readelf", ["-dW", exe], { encoding: "utf8" });
    expect(needed).toMatch(/NEEDED.*libasan/);
    expect(needed).toMatch(/NEEDED.*libubsan/);
    expect(out).toContain("qn-posix: ready");
    expect(statSync(flash).size).toBe(65536); // storage file created at its size
  });

  it("answers a ping with the same packet id and payload", async () => {
    const payload = Uint8Array.from({ length: 64 }, (_, i) => (i * 7) & 0xff);
    const r = await port!.request(T.PING, 0x1234, T.PONG, payload);
    expect(Buffer.from(r.payload)).toEqual(Buffer.from(payload));
  });

  it("echoes DATA frames with their header fields", async () => {
    const payload = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
    const r = await port!.request(T.DATA, 77, T.DATA, payload, 2000, { channel: 9, flags: 2, codec: 0 });
    expect(r.channel).toBe(9);
    expect(r.flags).toBe(2);
    expect(Buffer.from(r.payload)).toEqual(Buffer.from(payload));
  });

  it("survives garbage on the UART", async () => {
    const junk = Uint8Array.from({ length: 3000 }, (_, i) => (i * 131 + 17) & 0xff);
    await port!.write(junk);
    await port!.write(new Uint8Array([0])); // end whatever the junk started
    const r = await port!.request(T.PING, 99, T.PONG, new Uint8Array([1]));
    expect(r.packet).toBe(99);
  });

  it("reports a core trap with T_ERROR, counts it and keeps serving", async () => {
    proc!.kill("SIGUSR1"); // the hook makes the core read out of bounds
    const e = await port!.waitFor((f) => f.type === T.ERROR, 3000);
    expect(e.payload[0]).toBe(1); // QN_TRAP_OOB
    const id = readProto((await port!.request(T.IDENT_REQ, 5, T.IDENT, undefined, 2000, { codec: 1 })).payload);
    expect(Buffer.from(id.get(3) as Uint8Array).toString()).toBe("posix");
    expect(id.get(15)).toBe(1n); // traps
    expect((await port!.request(T.PING, 6, T.PONG)).packet).toBe(6);
  });

  it("exits cleanly on SIGTERM with no sanitizer report", async () => {
    const done = new Promise<number | null>((r) => proc!.on("exit", (code) => r(code)));
    proc!.kill("SIGTERM");
    expect(await done).toBe(0);
    expect(err).not.toMatch(/AddressSanitizer|runtime error|LeakSanitizer/);
    expect(out).toContain("qn-posix: exit 0");
  });
});
