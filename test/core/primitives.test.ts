// CRC-32C and COBS through the real compiled core.
import { describe, it, expect } from "vitest";
import { loadCore } from "../../host/core.ts";
import { crc32c as jsCrc } from "../../tools/crc32c.mjs";
import { cobs as jsCobs } from "./jsframe.ts";

const core = loadCore();
const enc = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const unhex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));

function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed >>> 8;
  };
}

describe("crc32c", () => {
  it("has the CRC-32C check value for 123456789", () => {
    expect(core.crc32c(enc("123456789"))).toBe(0xe3069283);
  });
  it("is 0 for no bytes", () => {
    expect(core.crc32c(new Uint8Array(0))).toBe(0);
  });
  it("agrees with an independent implementation on random data, with the device's tables and the host's slicing-by-16", () => {
    const narrow = loadCore({ wideCrc: false });
    const r = rng(7);
    for (let i = 0; i < 400; i++) {
      const b = Uint8Array.from({ length: r() % 600 }, () => r() & 0xff);
      expect(core.crc32c(b)).toBe(jsCrc(b));
      expect(narrow.crc32c(b)).toBe(jsCrc(b));
    }
    expect(narrow.crc32c(enc("123456789"))).toBe(0xe3069283);
    // Both paths were exercised: the default core took the wide tables
    // (its check against the byte table passed), the other did not.
    expect(core.wideCrc).toBe(true);
    expect(narrow.wideCrc).toBe(false);
  });
});

describe("cobs", () => {
  // Vectors from the COBS paper / Wikipedia's table, with our 0x00 delimiter.
  const vectors: [string, string][] = [
    ["00", "010100"],
    ["0000", "01010100"],
    ["001100", "0102110100"],
    ["11220033", "031122023300"],
    ["11223344", "051122334400"],
    ["11000000", "021101010100"],
  ];
  for (const [raw, wire] of vectors) {
    it(`encodes ${raw} as ${wire}`, () => {
      expect(hex(core.cobsEncode(unhex(raw)))).toBe(wire);
      expect(hex(core.cobsDecode(unhex(wire).subarray(0, -1)))).toBe(raw);
    });
  }
  it("handles the 254-byte block boundaries", () => {
    for (const n of [253, 254, 255, 256, 508, 509, 600]) {
      const raw = Uint8Array.from({ length: n }, (_, i) => (i % 255) + 1);
      const wire = core.cobsEncode(raw);
      expect(wire.subarray(0, -1).includes(0)).toBe(false);
      expect(wire[wire.length - 1]).toBe(0);
      expect(wire.length).toBeLessThanOrEqual(n + Math.floor(n / 254) + 2);
      expect(hex(core.cobsDecode(wire.subarray(0, -1)))).toBe(hex(raw));
    }
  });
  it("round-trips random data", () => {
    const r = rng(11);
    for (let i = 0; i < 500; i++) {
      const raw = Uint8Array.from({ length: r() % 700 }, () => (r() % 4 === 0 ? 0 : r() & 0xff));
      const wire = core.cobsEncode(raw);
      expect(wire.subarray(0, -1).includes(0)).toBe(false);
      expect(hex(core.cobsDecode(wire.subarray(0, -1)))).toBe(hex(raw));
    }
  });
  it("agrees with the textbook encoder for a zero at every offset of the 8- and 4-byte word copies", () => {
    // The core copies runs without a zero eight, then four bytes at a time;
    // this puts one or two zeros at every position of runs of 1..48 bytes,
    // then sparse zeros in long frames (long runs, every word alignment).
    const check = (raw: Uint8Array) => {
      const wire = core.cobsEncode(raw);
      expect(hex(wire)).toBe(hex(jsCobs(raw)));
      expect(hex(core.cobsDecode(wire.subarray(0, -1)))).toBe(hex(raw));
    };
    for (let n = 1; n <= 48; n++) {
      for (let p = 0; p < n; p++) {
        const raw = Uint8Array.from({ length: n }, (_, i) => ((i * 7 + 1) % 255) + 1);
        raw[p] = 0;
        check(raw);
        raw[(p * 5 + 3) % n] = 0;
        check(raw);
      }
    }
    const r = rng(13);
    for (let i = 0; i < 300; i++)
      check(Uint8Array.from({ length: r() % 700 }, () => (r() % 64 === 0 ? 0 : (r() % 255) + 1)));
  });
  it("refuses a zero inside a frame and a block running past the end", () => {
    expect(() => core.cobsDecode(unhex("031100"))).toThrow(/ERR_COBS/);
    expect(() => core.cobsDecode(unhex("0511"))).toThrow(/ERR_COBS/);
  });
});
