// The streaming frame decoder: valid frames in any chunking, and every kind
// of bad input rejected with its own status and counter.
import { describe, it, expect } from "vitest";
import { loadCore } from "../../host/core.ts";
import { Status } from "../../host/status.ts";
import { Counter, FrameType } from "../../host/frame.ts";
import { rawFrame, toWire, wire, rng } from "./jsframe.ts";

const DATA = FrameType.DATA;
const payload = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

function fresh() {
  return loadCore();
}

describe("decoder", () => {
  it("delivers a DATA frame to the inbox with every header field", () => {
    const core = fresh();
    const p = payload(40);
    expect(
      core.rx(
        wire({ type: DATA, flags: 2, codec: 1, channel: 9, session: 0xdeadbeef, packet: 77, lsn: 5, time: 123456 }, p),
      ),
    ).toBe(1);
    const f = core.inboxPop()!;
    expect(f).toMatchObject({
      version: 2,
      type: DATA,
      flags: 2,
      codec: 1,
      channel: 9,
      session: 0xdeadbeef,
      packet: 77,
      lsn: 5,
      time: 123456,
      length: 40,
    });
    expect(Buffer.from(f.payload).equals(Buffer.from(p))).toBe(true);
    expect(core.inboxPop()).toBeNull();
  });

  it("decodes the same frames for every chunking, byte by byte included", () => {
    const frames = [0, 1, 100, 253, 254, 256].map((n, i) => wire({ type: DATA, packet: i }, payload(n, i)));
    const stream = Buffer.concat(frames);
    for (const chunk of [1, 2, 3, 7, 64, 255, 256, stream.length]) {
      const core = fresh();
      let got = 0;
      for (let o = 0; o < stream.length; o += chunk) got += core.rx(stream.subarray(o, o + chunk));
      expect(got).toBe(frames.length);
      const packets = [];
      for (let f; (f = core.inboxPop()); ) packets.push(f.packet);
      // The inbox holds 8 frames; all 6 fit.
      expect(packets).toEqual([0, 1, 2, 3, 4, 5]);
    }
  });

  // However the bytes are cut into calls, on any input, good or bad, the
  // decoder must give the same frames, statuses and counters.
  it("gives the same verdicts whole and in pieces, on frames mixed with corruption and garbage", () => {
    const r = rng(7);
    const totals = [0, 0, 0, 0, 0, 0];
    const COUNTERS = [
      Counter.FRAMES_IN,
      Counter.ERR_CRC,
      Counter.ERR_OVERSIZE,
      Counter.ERR_TRUNCATED,
      Counter.ERR_VERSION,
      Counter.ERR_COBS,
    ];
    for (let round = 0; round < 40; round++) {
      const parts: Buffer[] = [];
      for (let k = 0; k < 12; k++) {
        const n = [0, 1, 3, 4, 5, 31, 32, 200, 253, 254, 255, 256][r() % 12];
        // Half the payloads have no zero byte: 254-byte blocks (code 0xFF).
        const body = r() % 2 ? payload(n, r()) : new Uint8Array(n).fill(1 + (r() % 255));
        const w = Buffer.from(wire({ type: DATA, packet: round * 100 + k, lsn: r() % 3, time: r() % 70000 }, body));
        const what = r() % 7;
        if (what === 1) w[1 + (r() % (w.length - 2))] ^= 1 << (r() % 8); // a flipped bit (may become a delimiter)
        if (what === 2) parts.push(Buffer.from(Array.from({ length: 1 + (r() % 9) }, () => r() & 0xff))); // garbage before it
        if (what === 3) {
          parts.push(w.subarray(0, r() % w.length));
          continue;
        } // cut short, the rest never comes
        if (what === 4) w[1] = 0xff; // a block that runs past the delimiter
        if (what === 6) {
          // the last block claims one byte more than there is
          let c = 0;
          while (c + w[c] < w.length - 1) c += w[c];
          if (w[c] < 0xff) w[c]++;
        }
        parts.push(what === 5 ? Buffer.from(wire({ type: DATA, version: 1 }, body)) : w); // another version
      }
      parts.push(Buffer.from(Array.from({ length: 300 }, () => 1 + (r() % 255))), Buffer.from([0])); // oversize, no zero in it
      const stream = Buffer.concat(parts);
      const verdicts = [] as string[];
      for (const chunk of [stream.length, 1, 5, 64]) {
        const core = fresh();
        const got: number[] = [];
        for (let o = 0; o < stream.length; o += chunk) {
          core.rx(stream.subarray(o, o + chunk));
          for (let f; (f = core.inboxPop()); ) got.push(f.packet);
        }
        expect(core.counter(Counter.BYTES_IN)).toBe(stream.length); // each byte counted once, however fed
        verdicts.push(JSON.stringify({ got, counters: COUNTERS.map((c) => core.counter(c)) }));
      }
      expect(new Set(verdicts).size, `round ${round}: ${verdicts.join("\n")}`).toBe(1);
      JSON.parse(verdicts[0]).counters.forEach((v: number, i: number) => {
        totals[i] += v;
      });
    }
    // Every verdict was exercised: frames in, CRC, oversize, cut short, version.
    expect(totals[0]).toBeGreaterThan(50);
    for (const i of [1, 2, 3, 4]) expect(totals[i], `counter ${COUNTERS[i]}`).toBeGreaterThan(5);
  });

  it("ignores idle delimiters and resynchronises after garbage", () => {
    const core = fresh();
    const good = wire({ type: DATA, packet: 1 }, payload(10));
    const stream = Buffer.concat([
      Buffer.from([0, 0, 0, 0x55, 0x12, 0xff, 0x33]),
      Buffer.from([0]),
      good,
      Buffer.from([0, 0]),
    ]);
    expect(core.rx(stream)).toBe(1);
    expect(core.inboxPop()!.packet).toBe(1);
    expect(core.counter(Counter.FRAMES_IN)).toBe(1);
  });

  it("rejects a bad CRC with ERR_CRC", () => {
    const core = fresh();
    const raw = rawFrame({ type: DATA }, payload(20));
    raw[30] ^= 0x10;
    expect(core.rx(toWire(raw))).toBe(0);
    expect(core.lastError()).toBe(Status.ERR_CRC);
    expect(core.counter(Counter.ERR_CRC)).toBe(1);
    expect(core.inboxPop()).toBeNull();
  });

  it("rejects an intact frame of another protocol version with ERR_VERSION", () => {
    const core = fresh();
    expect(core.rx(wire({ type: DATA, version: 1 }, payload(4)))).toBe(0);
    expect(core.lastError()).toBe(Status.ERR_VERSION);
    expect(core.counter(Counter.ERR_VERSION)).toBe(1);
  });

  it("rejects a frame cut short with ERR_TRUNCATED", () => {
    const core = fresh();
    const w = wire({ type: DATA }, payload(50));
    expect(core.rx(Buffer.concat([w.subarray(0, 20), Buffer.from([0])]))).toBe(0);
    expect(core.lastError()).toBe(Status.ERR_TRUNCATED);
    // Shorter than a header.
    expect(core.rx(toWire(Uint8Array.from([1, 2, 3])))).toBe(0);
    expect(core.lastError()).toBe(Status.ERR_TRUNCATED);
    // Length field says more than arrived.
    const raw = rawFrame({ type: DATA }, payload(8), 9);
    expect(core.rx(toWire(raw))).toBe(0);
    expect(core.lastError()).toBe(Status.ERR_TRUNCATED);
    expect(core.counter(Counter.ERR_TRUNCATED)).toBe(3);
  });

  it("rejects oversize frames with ERR_OVERSIZE and keeps working", () => {
    const core = fresh();
    // A stream of 2000 non-zero bytes: longer than any frame.
    expect(core.rx(Buffer.concat([Buffer.alloc(2000, 0x41), Buffer.from([0])]))).toBe(0);
    expect(core.lastError()).toBe(Status.ERR_OVERSIZE);
    // Length field above the maximum payload.
    expect(core.rx(toWire(rawFrame({ type: DATA }, payload(4), 300)))).toBe(0);
    expect(core.lastError()).toBe(Status.ERR_OVERSIZE);
    expect(core.counter(Counter.ERR_OVERSIZE)).toBe(2);
    expect(core.rx(wire({ type: DATA, packet: 3 }, payload(4)))).toBe(1);
    expect(core.inboxPop()!.packet).toBe(3);
  });

  it("refuses to send an oversize payload with a status", () => {
    const core = fresh();
    expect(() => core.send({ type: DATA, payload: new Uint8Array(257) })).toThrow(/ERR_OVERSIZE/);
    expect(() => core.send({ type: DATA, flags: 3, payload: new Uint8Array(1) })).toThrow(/ERR_ARG/);
  });

  it("answers PING with PONG carrying the same packet id and payload", () => {
    const dev = fresh();
    const p = payload(12);
    expect(dev.rx(wire({ type: FrameType.PING, packet: 4242, codec: 0 }, p))).toBe(1);
    const host = fresh();
    expect(host.rx(dev.pull())).toBe(1);
    const pong = host.inboxPop()!;
    expect(pong.type).toBe(FrameType.PONG);
    expect(pong.packet).toBe(4242);
    expect(Buffer.from(pong.payload).equals(Buffer.from(p))).toBe(true);
  });

  it("drops frames when the inbox is full, counting them, and recovers", () => {
    const core = fresh();
    let ok = 0;
    for (let i = 0; i < 12; i++) ok += core.rx(wire({ type: DATA, packet: i }, payload(8)));
    expect(ok).toBe(12);
    expect(core.counter(Counter.INBOX_DROP)).toBe(4);
    for (let i = 0; i < 8; i++) expect(core.inboxPop()!.packet).toBe(i);
    expect(core.inboxPop()).toBeNull();
    const pools = [0, 1].map((i) => core.pool(i).inUse);
    expect(pools).toEqual([0, 0]);
  });
});
