// qn.h's contract, checked through a test application (apps/api_check)
// built against a copy of the posix SDK folder (ASan and UBSan on) and
// driven over its pty by a host peer: refused arguments, the link
// callback, QN_MSG_AGAIN (the same message again at the next poll, then
// echoed in place, each exactly once and in order), and publishes of other
// data from inside the callback and while a message is held, which go out
// and leave the message as it was. The process is killed by its pid in
// afterAll.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FramePort } from "../../boards/test/wire.ts";
import { Session } from "../../boards/test/session.ts";
import { FrameType } from "../../host/frame.ts";
import { Qos, Status } from "../../host/abi.ts";
import { sdkCopy, buildExample, ROOT } from "./sdk-build.ts";

describe("qn.h on the posix board (test application, ASan/UBSan)", () => {
  let proc: ChildProcess | undefined;
  let port: FramePort | undefined;
  let session: Session | undefined;
  const io = { out: "", err: "" };
  const lines = () => io.out.split("\n");
  const value = (name: string) =>
    lines()
      .find((l) => l.startsWith(`${name} `))
      ?.split(" ")[1];

  beforeAll(async () => {
    const sdk = sdkCopy("posix", "debug");
    const app = join(sdk, "api_check");
    cpSync(join(ROOT, "sdk/test/apps/api_check"), app, { recursive: true });
    const exe = join(buildExample(sdk, "api_check", "posix", app), "api_check");
    const flash = join(mkdtempSync(join(tmpdir(), "qn-api-")), "flash.bin");
    proc = spawn(exe, [], { env: { ...process.env, QN_FLASH: flash } });
    proc.stdout!.on("data", (d) => (io.out += d));
    proc.stderr!.on("data", (d) => (io.err += d));
    const deadline = Date.now() + 10_000;
    while (!/uart (\/dev\/pts\/\d+)/.test(io.out)) {
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`no pty: ${io.out}${io.err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    port = await FramePort.open(/uart (\/dev\/pts\/\d+)/.exec(io.out)![1]);
    await port.warmUp(5000);
    session = await Session.open(port, { timeoutMs: 10_000 });
  }, 300_000);

  afterAll(async () => {
    session?.close();
    await port?.close();
    if (proc?.pid && proc.exitCode === null) process.kill(proc.pid, "SIGKILL");
  });

  it("refuses bad arguments with a status and reports the link", async () => {
    expect(Number(value("arg-null-config"))).toBe(Status.ERR_ARG);
    expect(Number(value("arg-null-data"))).toBe(Status.ERR_ARG);
    expect(Number(value("arg-oversize"))).toBe(Status.ERR_OVERSIZE);
    expect(Number(value("publish-no-session"))).toBeLessThan(0);
    await expect.poll(() => value("link"), { timeout: 5000 }).toBe("1");
  });

  it("redelivers a message handed back with QN_MSG_AGAIN, then echoes each once and in order", async () => {
    const bodies = Array.from({ length: 6 }, (_, i) => `again-${i}`);
    const ids = bodies.map((b) => session!.publish(1, Qos.AT_LEAST_ONCE, Buffer.from(b)));
    const echoes: string[] = [];
    for (let i = 0; i < bodies.length; i++) {
      const f = await session!.waitFor((f) => f.type === FrameType.DATA && f.channel === 1, 5000);
      echoes.push(Buffer.from(f.payload).toString());
    }
    expect(echoes).toEqual(bodies);
    // What the callbacks published goes out behind the echoes; on a loaded
    // machine it can take a while to arrive.
    const onNine = (t: string) =>
      session!.got.filter(
        (f) => f.type === FrameType.DATA && f.channel === 9 && Buffer.from(f.payload).toString() === t,
      ).length;
    await expect.poll(() => onNine("from the callback"), { timeout: 10_000 }).toBe(bodies.length);
    await expect.poll(() => onNine("other"), { timeout: 10_000 }).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    const data = session!.got.filter((f) => f.type === FrameType.DATA);
    expect(data.filter((f) => f.channel === 1)).toEqual([]); // no extra echo
    const seen = lines().filter((l) => l.startsWith("delivered "));
    expect(seen).toEqual(ids.flatMap((id) => [`delivered ${id} 1`, `delivered ${id} 2`]));
    // Other data published while the message was in the area went out,
    // and the echoes above show the message came back unchanged.
    const fromCallback = lines().filter((l) => l.startsWith("callback-publish "));
    expect(fromCallback).toEqual(bodies.map(() => "callback-publish 0"));
    expect(Number(value("held-publish"))).toBe(0);
    const other = data.filter((f) => f.channel === 9).map((f) => Buffer.from(f.payload).toString());
    expect(other.filter((t) => t === "from the callback")).toHaveLength(bodies.length);
    expect(other.filter((t) => t === "other")).toHaveLength(1);
    expect(io.err).not.toMatch(/AddressSanitizer|runtime error/);
  }, 30_000);
});
