// Property tests of the decoder over generated inputs: random chunking of
// valid streams decodes identically; random corruption and random garbage
// never crash the core and never yield a frame that is not one of the
// frames sent (so never a frame with a wrong CRC). The count is printed.
import { describe, it, expect } from "vitest";
import { loadCore, type QnCore } from "../../host/core.ts";
import { FrameType, Counter } from "../../host/frame.ts";
import { wire, rng } from "./jsframe.ts";

const INPUTS = Number(process.env.QN_PROPERTY_INPUTS ?? 100_000);
const DATA = FrameType.DATA;

function drain(core: QnCore): string[] {
  const out: string[] = [];
  for (let f; (f = core.inboxPop()); ) out.push(`${f.packet}:${Buffer.from(f.payload).toString("hex")}`);
  return out;
}

describe("decoder properties", () => {
  it(`holds over ${INPUTS} generated inputs`, () => {
    const r = rng(0x5eed);
    const core = loadCore();
    let inputs = 0,
      valid = 0,
      corrupt = 0,
      garbage = 0,
      delivered = 0,
      rejected = 0;
    const t0 = Date.now();
    while (inputs < INPUTS) {
      const kind = r() % 3;
      // 1 to 3 frames (the inbox holds 8: drain after each input).
      const n = 1 + (r() % 3);
      const sent = new Map<string, true>();
      const frames: Uint8Array[] = [];
      for (let i = 0; i < n; i++) {
        const len = r() % 3 === 0 ? r() % 257 : r() % 40;
        const p = Uint8Array.from({ length: len }, () => (r() % 5 === 0 ? 0 : r() & 0xff));
        const packet = r();
        frames.push(wire({ type: DATA, packet, channel: r() & 0xff, lsn: r() }, p));
        sent.set(`${packet}:${Buffer.from(p).toString("hex")}`, true);
      }
      let stream = Buffer.concat(frames);
      if (kind === 1) {
        // Corrupt: flip 1-4 random bits, or delete / insert a byte.
        stream = Buffer.from(stream);
        const m = r() % 3;
        if (m === 0) for (let k = 1 + (r() % 4); k--; ) stream[r() % stream.length] ^= 1 << (r() % 8);
        else if (m === 1) {
          const at = r() % stream.length;
          stream = Buffer.concat([stream.subarray(0, at), stream.subarray(at + 1)]);
        } else {
          const at = r() % stream.length;
          stream = Buffer.concat([stream.subarray(0, at), Buffer.from([r() & 0xff]), stream.subarray(at)]);
        }
        corrupt++;
      } else if (kind === 2) {
        stream = Buffer.from(Uint8Array.from({ length: r() % 600 }, () => r() & 0xff));
        sent.clear();
        garbage++;
      } else valid++;
      // Random chunking, then a delimiter so the next input starts clean.
      let got = 0;
      for (let o = 0; o < stream.length; ) {
        const c = 1 + (r() % 97);
        got += core.rx(stream.subarray(o, o + c));
        o += c;
      }
      got += core.rx(Uint8Array.of(0));
      const out = drain(core);
      expect(out.length).toBe(got);
      for (const f of out) expect(sent.has(f), `frame ${f.slice(0, 40)} was never sent`).toBe(true);
      if (kind === 0) expect(out).toEqual([...sent.keys()]);
      delivered += out.length;
      inputs++;
    }
    rejected = [
      Counter.ERR_CRC,
      Counter.ERR_TRUNCATED,
      Counter.ERR_OVERSIZE,
      Counter.ERR_VERSION,
      Counter.ERR_COBS,
    ].reduce((a, c) => a + core.counter(c), 0);
    expect(core.pool(0).inUse + core.pool(1).inUse).toBe(0);
    console.log(
      `decoder property test: ${inputs} inputs (${valid} valid streams, ${corrupt} corrupted, ${garbage} garbage), ` +
        `${delivered} frames delivered, ${rejected} rejected, 0 false frames, ${Date.now() - t0} ms`,
    );
    expect(inputs).toBeGreaterThanOrEqual(INPUTS);
  }, 3_600_000);
});
