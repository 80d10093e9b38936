// The posix board: the firmware main loop as a Linux process built with
// AddressSanitizer and UBSan (TARGET=debug), driven through its pty: the
// handshake (HMAC-SHA-256, getrandom nonces) and MAC'd echo run under the
// sanitizers too. A reset request ends the process with status 75; a
// restart over the same storage file reopens the journal (power-cut path).
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildFirmware } from "./build.ts";
import { FramePort, readProto, encodeFrame } from "./wire.ts";
import { FrameType } from "../../host/frame.ts";
import { Session } from "./session.ts";
import { errorStatus } from "./elf.ts";
import { QosStat } from "../../host/abi.ts";

/** Start the posix firmware; resolves once its pty is open and answering. */
async function startPosix(exe: string, flash: string) {
  const proc = spawn(exe, [], {
    env: { ...process.env, QN_FLASH: flash, ASAN_OPTIONS: "abort_on_error=0:exitcode=66" },
  });
  const io = { out: "", err: "" };
  proc.stdout!.on("data", (d) => (io.out += d));
  proc.stderr!.on("data", (d) => (io.err += d));
  const deadline = Date.now() + 10_000;
  while (!/uart (\/dev\/pts\/\d+)/.test(io.out)) {
    if (Date.now() > deadline || proc.exitCode !== null) {
      proc.kill("SIGKILL");
      throw new Error(`no pty from ${exe}: ${io.out}${io.err}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const port = await FramePort.open(/uart (\/dev\/pts\/\d+)/.exec(io.out)![1]);
  await port.warmUp(5000);
  return { proc, port, io };
}

describe("posix board under ASan/UBSan", () => {
  let proc: ChildProcess | undefined;
  let exe = "";
  let port: FramePort | undefined;
  let io = { out: "", err: "" };
  const dir = mkdtempSync(join(tmpdir(), "qn-posix-"));
  const flash = join(dir, "flash.bin");

  beforeAll(async () => {
    exe = buildFirmware("posix", "debug");
    const p = await startPosix(exe, flash);
    proc = p.proc;
    port = p.port;
    io = p.io;
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
    expect(io.out).toContain("qn-posix: ready");
    expect(io.err).not.toMatch(/qn: journal/); // the journal opened
    expect(statSync(flash).size).toBe(65536); // storage file created at its size
  });

  it("answers a ping with the same packet id and payload", async () => {
    const payload = Uint8Array.from({ length: 64 }, (_, i) => (i * 7) & 0xff);
    const r = await port!.request(FrameType.PING, 0x1234, FrameType.PONG, payload);
    expect(Buffer.from(r.payload)).toEqual(Buffer.from(payload));
  });

  it("refuses DATA without a session and echoes it inside one (MAC'd)", async () => {
    await port!.write(encodeFrame(FrameType.DATA, 77, new Uint8Array(8), { channel: 9, flags: 2 }));
    const e = await port!.waitFor((f) => f.type === FrameType.ERROR && f.packet === 77, 2000);
    expect(errorStatus(e.payload)).toBe(-24); // ERR_SESSION
    const s = await Session.open(port!);
    try {
      const payload = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
      s.publish(9, 1, payload, 2);
      const r = await s.waitFor((f) => f.type === FrameType.DATA && f.channel === 9, 3000);
      expect(r.flags & 0x2f).toBe(0x26); // MAC, QoS 1, priority 2
      expect(Buffer.from(r.payload)).toEqual(Buffer.from(payload));
    } finally {
      s.close();
    }
  });

  it("survives garbage on the UART", async () => {
    const junk = Uint8Array.from({ length: 3000 }, (_, i) => (i * 131 + 17) & 0xff);
    await port!.write(junk);
    await port!.write(new Uint8Array([0])); // end whatever the junk started
    const r = await port!.request(FrameType.PING, 99, FrameType.PONG, new Uint8Array([1]));
    expect(r.packet).toBe(99);
  });

  it("reports a core trap with T_ERROR, counts it and keeps serving", async () => {
    proc!.kill("SIGUSR1"); // the hook makes the core read out of bounds
    const e = await port!.waitFor((f) => f.type === FrameType.ERROR, 3000);
    expect(e.payload[0]).toBe(1); // QN_TRAP_OOB
    const id = readProto(
      (await port!.request(FrameType.IDENT_REQ, 5, FrameType.IDENT, undefined, 2000, { codec: 1 })).payload,
    );
    expect(Buffer.from(id.get(3) as Uint8Array).toString()).toBe("posix");
    expect(id.get(15)).toBe(1n); // traps
    expect((await port!.request(FrameType.PING, 6, FrameType.PONG)).packet).toBe(6);
  });

  it("exits cleanly on SIGTERM with no sanitizer report", async () => {
    const done = new Promise<number | null>((r) => proc!.on("exit", (code) => r(code)));
    proc!.kill("SIGTERM");
    expect(await done).toBe(0);
    expect(io.err).not.toMatch(/AddressSanitizer|runtime error|LeakSanitizer/);
    expect(io.out).toContain("qn-posix: exit 0");
    await port!.close();
  });

  it("comes back after kill -9 over the same storage (power cut) and answers", async () => {
    const p = await startPosix(exe, flash);
    try {
      const s = await Session.open(p.port);
      s.publish(4, 2, Uint8Array.of(1, 2, 3)); // a QoS 2 record in the journal
      const deadline = Date.now() + 3000;
      while (s.core.qosStat(QosStat.IN_FLIGHT) !== 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      expect(s.core.qosStat(QosStat.IN_FLIGHT)).toBe(0);
      s.close();
      p.proc.kill("SIGKILL");
      await p.port.close();
      const again = await startPosix(exe, flash);
      try {
        expect(again.io.err).not.toMatch(/qn: journal|AddressSanitizer|runtime error/);
        expect((await again.port.request(FrameType.PING, 8, FrameType.PONG)).packet).toBe(8);
      } finally {
        again.proc.kill("SIGKILL");
        await again.port.close();
      }
    } finally {
      if (p.proc.exitCode === null) p.proc.kill("SIGKILL");
    }
  }, 30_000);

  it("ends with status 75 on an authenticated RESET_REQ (restart is the runner's job)", async () => {
    const p = await startPosix(exe, flash);
    try {
      const code = new Promise<number | null>((r) => p.proc.on("exit", (c) => r(c)));
      const s = await Session.open(p.port);
      s.send(FrameType.RESET_REQ);
      expect(await code).toBe(75);
      s.close();
      expect(p.io.out).toContain("qn-posix: reset");
    } finally {
      if (p.proc.exitCode === null) p.proc.kill("SIGKILL");
      await p.port.close();
    }
  }, 30_000);
});
