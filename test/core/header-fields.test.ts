// Every received header field the core indexes by or branches on is checked
// once, in frame_check, before any layer uses it: a frame whose priority
// class, QoS, flag bit 7 or reserved byte is out of range is refused with
// ERR_HEADER and counted, costs no pool block and gets no answer, and the
// core goes on answering good frames. (A priority-3 PING used to queue its
// PONG on a fourth outbox that does not exist, over other state.)
import { describe, it, expect } from "vitest";
import { loadCore } from "../../host/core.ts";
import { Status } from "../../host/status.ts";
import { Counter, FrameType } from "../../host/frame.ts";
import { rawFrame, toWire } from "./jsframe.ts";
import { crc32c } from "../../tools/crc32c.mjs";
import { Link } from "../protocol/harness.ts";

/** A valid frame whose byte `at` is then set to `value`, CRC recomputed.
 *  With the MAC flag it carries 8 (wrong) MAC bytes after its payload. */
function withByte(type: number, flags: number, at: number, value: number): Uint8Array {
  const mac = (flags & 0x20) !== 0;
  const raw = rawFrame({ type, flags }, Uint8Array.of(1, 2, 3, 4, ...(mac ? [9, 9, 9, 9, 9, 9, 9, 9] : [])), 4);
  raw[at] = value;
  new DataView(raw.buffer).setUint32(raw.length - 4, crc32c(raw.subarray(0, raw.length - 4)), true);
  return toWire(raw);
}

const BAD: [string, number, number][] = [
  ["priority 3", 2, 0x03],
  ["QoS 3", 2, 0x0c | 1],
  ["flag bit 7", 2, 0x80 | 1],
  ["a reserved byte of 1", 5, 1],
];

function poolsInUse(core: ReturnType<typeof loadCore>): number {
  let n = 0;
  for (let i = 0; i < core.poolCount; i++) n += core.pool(i).inUse;
  return n;
}

describe("received header fields", () => {
  for (const type of [FrameType.PING, FrameType.IDENT_REQ, FrameType.DATA]) {
    for (const [what, at, value] of BAD) {
      it(`type 0x${type.toString(16)} with ${what} is refused with ERR_HEADER, costs nothing and gets no answer`, () => {
        const core = loadCore();
        expect(core.rx(withByte(type, 1, at, value))).toBe(0);
        expect(core.lastError()).toBe(Status.ERR_HEADER);
        expect(core.counter(Counter.ERR_HEADER)).toBe(1);
        expect(core.counter(Counter.FRAMES_IN)).toBe(0);
        expect(core.pull().length).toBe(0);
        expect(poolsInUse(core)).toBe(0);
        expect(core.inboxPop()).toBeNull();
        // The core still answers a good PING.
        expect(core.rx(withByte(FrameType.PING, 1, 5, 0))).toBe(1);
        expect(core.pull().length).toBeGreaterThan(0);
        expect(poolsInUse(core)).toBe(0);
      });
    }
  }

  it("a corrupt flags byte is still a CRC error, not ERR_HEADER", () => {
    const core = loadCore();
    const w = Buffer.from(withByte(FrameType.PING, 1, 5, 0));
    const raw = rawFrame({ type: FrameType.PING, flags: 1 }, Uint8Array.of(1, 2, 3, 4));
    raw[2] = 0x03; // CRC left as computed for flags 1
    expect(core.rx(toWire(raw))).toBe(0);
    expect(core.lastError()).toBe(Status.ERR_CRC);
    expect(core.rx(w)).toBe(1);
  });

  it("auth mode 2, session up: a priority-3 PING, with or without the MAC flag, is refused before the MAC", () => {
    const l = new Link({ role: 1, auth: 2 }, { role: 0, auth: 2 });
    l.connect();
    l.run(5);
    const dev = l.b.core;
    l.b.core.pull();
    const before = poolsInUse(dev);
    for (const flags of [0x03, 0x23]) {
      expect(dev.rx(withByte(FrameType.PING, flags, 2, flags))).toBe(0);
      expect(dev.lastError()).toBe(Status.ERR_HEADER);
    }
    expect(dev.counter(Counter.ERR_HEADER)).toBe(2);
    expect(dev.pull().length).toBe(0);
    expect(poolsInUse(dev)).toBe(before);
    expect(l.b.up).toBe(true);
  });
});
