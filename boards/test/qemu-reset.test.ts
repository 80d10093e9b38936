// The QEMU board's storage behaves like flash across resets: QEMU's reset
// (monitor system_reset, or the firmware's own SYSRESETREQ on RESET_REQ)
// reloads the ELF's segments, and the journal region at the top of the
// code region lies outside all of them. The firmware must come back,
// answer, find its storage formatted (boot counter up by one) and the
// journal records written before the reset intact. RESET_REQ (0x20) in an
// authenticated session takes the same path through the firmware.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { buildFirmware } from "./build.ts";
import type { Qemu } from "../../host/qemu.ts";
import { type FramePort, bootWithPort } from "./wire.ts";
import { FrameType } from "../../host/frame.ts";
import { Session } from "./session.ts";
import { elfSymbol } from "./elf.ts";
import { QosStat } from "../../host/abi.ts";

const MAGIC = 0x514e5354; // "QNST"
const STORE_WORDS = (16 * 1024) / 4;

describe("mps2-an500 storage across resets", () => {
  let elf = "";
  let q: Qemu | undefined;
  let port: FramePort | undefined;
  let meta = 0,
    store = 0;

  beforeAll(async () => {
    elf = buildFirmware("mps2-an500", "release");
    meta = elfSymbol(elf, "qn_storage_meta");
    store = elfSymbol(elf, "qn_storage_start");
    ({ q, port } = await bootWithPort(elf));
  }, 300_000);

  afterAll(async () => {
    await port?.close();
    await q?.stop();
  });

  it("formats fresh storage once and counts the boot", async () => {
    expect(await q!.readWord(meta)).toBe(MAGIC);
    expect(await q!.readWord(meta + 4)).toBe(1);
  });

  it("keeps journal records across a monitor system_reset and comes back", async () => {
    const s = await Session.open(port!);
    for (let i = 0; i < 5; i++) s.publish(2, 2, Uint8Array.of(i, i, i));
    const deadline = Date.now() + 3000;
    while (s.core.qosStat(QosStat.IN_FLIGHT) !== 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(s.core.qosStat(QosStat.IN_FLIGHT)).toBe(0); // all five completed: the device journalled them
    s.close();
    const before = await q!.readWords(store, STORE_WORDS);
    const written = before.map((w, i) => (w !== 0xffffffff ? i : -1)).filter((i) => i >= 0);
    expect(written.length).toBeGreaterThan(0);

    await q!.monitor("system_reset");
    port!.frames.length = 0;
    await port!.warmUp(5000); // the firmware rebooted and answers
    expect(await q!.readWord(meta)).toBe(MAGIC);
    expect(await q!.readWord(meta + 4)).toBe(2); // booted again, not reformatted
    expect(await q!.readWord(elfSymbol(elf, "qn_journal_status"))).toBe(0); // reopened
    const after = await q!.readWords(store, STORE_WORDS);
    for (const i of written) expect(after[i], `storage word ${i}`).toBe(before[i]);
    const r = await port!.request(FrameType.PING, 77, FrameType.PONG, Uint8Array.of(1, 2));
    expect(r.payload).toEqual(Uint8Array.of(1, 2));
  }, 30_000);

  it("resets on an authenticated RESET_REQ and comes back", async () => {
    const boots = await q!.readWord(meta + 4);
    const s = await Session.open(port!);
    s.send(FrameType.RESET_REQ);
    const deadline = Date.now() + 5000;
    while ((await q!.readWord(meta + 4)) === boots && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    s.close();
    expect(await q!.readWord(meta + 4)).toBe(boots + 1);
    port!.frames.length = 0;
    await port!.warmUp(5000);
  }, 30_000);
});
