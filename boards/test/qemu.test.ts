// The mps2-an500 firmware in QEMU, over a real pty through serialport:
// it boots, answers identity and ping, echoes DATA, shrugs off garbage,
// and boots within the instruction budget.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildFirmware, ROOT } from "./build.ts";
import { Qemu } from "./qemu.ts";
import { FramePort, T, readProto } from "./wire.ts";
import { measure, BOOT_GOAL } from "../tools/measure.ts";

describe("mps2-an500 firmware in QEMU", () => {
  let elf = "";
  let q: Qemu | undefined;
  let port: FramePort | undefined;

  beforeAll(async () => {
    elf = buildFirmware("mps2-an500", "release");
    q = await Qemu.start({ elf });
    port = await FramePort.open(q.pty);
    await q.cont();
    await port.warmUp(5000);
  }, 300_000);

  afterAll(async () => {
    await port?.close();
    await q?.stop();
  });

  it("answers an identity request with its board facts", async () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, "build/manifest.json"), "utf8"));
    const r = await port!.request(T.IDENT_REQ, 3, T.IDENT, undefined, 2000, { codec: 1 });
    expect(r.codec).toBe(1);
    const id = readProto(r.payload);
    expect(Buffer.from(id.get(3) as Uint8Array).toString()).toBe("mps2-an500");
    expect(id.get(2)).toBe(BigInt(manifest.build_id));
    expect(id.get(4)).toBe(25_000_000n);
    expect(id.get(6)).toBe(BigInt(manifest.heap_base));
    expect(Number(id.get(5))).toBeGreaterThanOrEqual(manifest.heap_base); // linear memory fits the core
    expect(Number(id.get(5))).toBeLessThan(manifest.heap_base + 256);     // and is sized from it
    expect(id.get(15)).toBe(0n); // no traps
  });

  it("answers pings with the same packet id and payload", async () => {
    for (let i = 0; i < 20; i++) {
      const payload = Uint8Array.from({ length: i * 12 }, (_, k) => (k + i) & 0xff);
      const r = await port!.request(T.PING, 1000 + i, T.PONG, payload);
      expect(Buffer.from(r.payload)).toEqual(Buffer.from(payload));
    }
  });

  it("echoes DATA frames with their header fields", async () => {
    const payload = Uint8Array.from({ length: 256 }, (_, i) => i);
    const r = await port!.request(T.DATA, 0xdeadbeef, T.DATA, payload, 2000, { channel: 3, flags: 2 });
    expect(r.channel).toBe(3);
    expect(r.flags).toBe(2);
    expect(Buffer.from(r.payload)).toEqual(Buffer.from(payload));
  });

  it("keeps answering after garbage bytes on the UART", async () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let round = 0; round < 5; round++) {
      await port!.write(Uint8Array.from({ length: 700 }, rnd)); // random, with and without zeros
      await port!.write(new Uint8Array(600).fill(0x41));        // one overlong frame
      await port!.write(new Uint8Array([0]));
      const r = await port!.request(T.PING, 5000 + round, T.PONG, new Uint8Array([round]));
      expect(r.payload[0]).toBe(round);
    }
    expect(q!.running).toBe(true); // no fault handler ended QEMU
  });

  it(`boots in under ${BOOT_GOAL} instructions and stays within its stack`, async () => {
    const m = await measure(elf);
    expect(m.bootInstructions).toBeGreaterThan(1000);
    expect(m.bootInstructions).toBeLessThan(BOOT_GOAL);
    expect(m.stackUsed).toBeGreaterThan(0);
    expect(m.stackUsed).toBeLessThan(m.stackSize);
    // Deterministic: the same count on a second boot.
    expect((await measure(elf)).bootInstructions).toBe(m.bootInstructions);
  }, 60_000);
});
