// A firmware built with QN_AUTH_MODE=0 echoes QoS 0 DATA without any
// session (the link-test configuration), still refuses QoS 1 without one
// (acknowledged delivery needs a session), and still answers identity.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { make } from "./build.ts";
import type { Qemu } from "../../host/qemu.ts";
import { type FramePort, bootWithPort, encodeFrame } from "./wire.ts";
import { FrameType } from "../../host/frame.ts";
import { errorStatus } from "./elf.ts";

describe("mps2-an500 built with QN_AUTH_MODE=0", () => {
  const dir = mkdtempSync(join(tmpdir(), "qn-auth0-"));
  let q: Qemu | undefined;
  let port: FramePort | undefined;

  beforeAll(async () => {
    make(["PLATFORM=mps2-an500", "TARGET=release", "firmware", `QN_FW_ROOT=${dir}`, "QN_AUTH_MODE=0"]);
    ({ q, port } = await bootWithPort(join(dir, "mps2-an500/release/qn.elf")));
  }, 300_000);

  afterAll(async () => {
    await port?.close();
    await q?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("echoes QoS 0 DATA without a session, keeping channel and priority", async () => {
    const payload = Uint8Array.from({ length: 256 }, (_, i) => i);
    await port!.write(encodeFrame(FrameType.DATA, 0x1234, payload, { channel: 3, flags: 2 }));
    const r = await port!.waitFor((f) => f.type === FrameType.DATA && f.channel === 3, 2000);
    expect(r.flags).toBe(2); // priority 2, QoS 0, no MAC
    expect(Buffer.from(r.payload)).toEqual(Buffer.from(payload));
  });

  it("refuses QoS 1 DATA without a session", async () => {
    await port!.write(encodeFrame(FrameType.DATA, 0x4321, Uint8Array.of(1), { channel: 4, flags: 2 | (1 << 2) }));
    const e = await port!.waitFor((f) => f.type === FrameType.ERROR && f.packet === 0x4321, 2000);
    expect(errorStatus(e.payload)).toBe(-24);
  });
});
