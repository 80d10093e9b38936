// The pure frame codec (qn_frame_encode / qn_frame_decode through
// host/frame-codec.ts): byte-identical to the independent JS encoder, the
// link's checks on the way in, and refusals with statuses.
import { describe, it, expect } from "vitest";
import { loadCore } from "../../host/core.ts";
import { FrameCodec } from "../../host/frame-codec.ts";
import { Status } from "../../host/status.ts";
import { Counter, Flag, FrameType } from "../../host/frame.ts";
import { wire, rng } from "./jsframe.ts";

const codec = () => new FrameCodec(loadCore());
const status = (f: () => unknown) => {
  try {
    f();
    return 0;
  } catch (e: any) {
    return e.status ?? e.code;
  }
};

describe("pure frame codec", () => {
  it("encodes byte for byte like the JS encoder and decodes back, 0 to 256 bytes, zeros included", () => {
    const c = codec(),
      r = rng(7);
    for (let len = 0; len <= 256; len++) {
      const p = Uint8Array.from({ length: len }, () => (r() % 4 === 0 ? 0 : r() & 0xff));
      const h = { type: FrameType.DATA, flags: 2 | (1 << 2), codec: 1, channel: r() & 0xff, packet: r() };
      const w = c.encode(h, p);
      expect(Buffer.from(w)).toEqual(Buffer.from(wire(h, p)));
      const f = c.decode(w);
      expect([f.type, f.flags, f.codec, f.channel, f.packet, f.length]).toEqual([
        h.type,
        h.flags,
        h.codec,
        h.channel,
        h.packet,
        len,
      ]);
      expect(Buffer.from(f.payload)).toEqual(Buffer.from(p));
      expect(Buffer.from(c.decode(Buffer.concat([Buffer.of(0), w])).payload)).toEqual(Buffer.from(p)); // a leading delimiter too
    }
  });

  it("rejects what the link rejects, with its status", () => {
    const c = codec();
    const w = c.encode({ type: FrameType.DATA, packet: 9 }, Buffer.from("hello, plant"));
    const flipped = Uint8Array.from(w);
    flipped[10] ^= 0x04;
    expect(status(() => c.decode(flipped))).toBe(Status.ERR_CRC);
    expect(status(() => c.decode(w.subarray(0, 12)))).not.toBe(0);
    expect(status(() => c.decode(Uint8Array.of(0)))).toBe(Status.ERR_TRUNCATED);
    // A delimiter inside a COBS block: the frame was cut short. The link says ERR_TRUNCATED for the same bytes.
    expect(status(() => c.decode(Uint8Array.of(5, 1, 2, 0, 3, 0)))).toBe(Status.ERR_TRUNCATED);
    expect(status(() => c.decode(Uint8Array.of(5, 1, 2)))).toBe(Status.ERR_TRUNCATED);
    const link = loadCore();
    link.rx(Uint8Array.of(5, 1, 2, 0));
    expect(link.counter(Counter.ERR_TRUNCATED)).toBe(1);
    expect(status(() => c.decode(new Uint8Array(5000)))).toBe(Status.ERR_OVERSIZE);
    const r = rng(3);
    for (let i = 0; i < 2000; i++) {
      const g = Uint8Array.from({ length: 1 + (r() % 300) }, () => r() & 0xff);
      expect(status(() => c.decode(g))).toBeLessThan(0); // never a frame, never a throw of another kind
    }
  });

  it("refuses an oversize payload, the MAC flag and a trace context that does not fit", () => {
    const c = codec();
    expect(status(() => c.encode({ type: FrameType.DATA }, new Uint8Array(257)))).toBe(Status.ERR_OVERSIZE);
    expect(status(() => c.encode({ type: FrameType.DATA, flags: 2 | Flag.MAC }, new Uint8Array(8)))).toBe(
      Status.ERR_ARG,
    );
    expect(status(() => c.encode({ type: FrameType.DATA, flags: 2 | Flag.TRACE }, new Uint8Array(25)))).toBe(
      Status.ERR_ARG,
    );
    expect(
      c.decode(c.encode({ type: FrameType.DATA, flags: 2 | Flag.TRACE }, new Uint8Array(26))).flags & Flag.TRACE,
    ).toBe(Flag.TRACE);
  });
});
