// Chaskey-12, the frame MAC of auth mode 2 (assembly/crypto/chaskey.ts).
// Both ends of a link run the same core, so a wrong MAC would still agree
// with itself: only outside vectors can catch it. These are the known-answer
// vectors of the Chaskey-12 reference implementation (N. Mouha,
// mouha.be/chaskey, CC0): key 00 11 22 .. ff, message 00 01 .. (n-1) for
// n = 0..63, 64-bit tag. They cover the empty message, a partial last
// block, and whole last blocks (16, 32, 48 bytes: the K1 path).
import { describe, it, expect } from "vitest";
import { loadCore } from "../../host/core.ts";
import { raw } from "../support/raw-core.ts";

const core = loadCore();
const x = raw(core).x,
  mem = raw(core).mem,
  at = raw(core).scratchBase;

const VECTORS = `
dd3e1849d6824555 ed1da89ec93179ca 98fe20a343cd666f f6f418acdd7d9fa1 4cf04960099949f3 75c83252653d3b57 964b0461fbe92273 141fa08bbf399636
412d98ed936d4ab2 fb0d98bc70e305f9 36f88e1fda86c8ab 4d1a1815868a5aa8 7a7912c1999eae81 9ca11137b4a34601 7905142f3be77e67 6a3ee3d35c043397
d13970d7be9b2350 32acd914bfda3bc8 8a58d816cb7a1483 03f4d66638efad8d f9932237ff05e831 f5fedb134862b471 8bb55486f38d57ea 8a3acb94b5ad591c
7ce3708723f7495f f42f3d2f405710c2 b3933a167e5636ac 899a7945423a5e1b 65e12df5a695fac8 b82449d8c8a06ae9 a850dfbadefa4229 fd42c39d08ab71a0
b465c2412610bf84 89c4a9ddb53e6991 5a9af91eb095d331 8e54914c151e46b0 fab8ab0b5beaaec6 60ad906acd06c823 6b1e6bc2426dad17 90328fd259889a8f
f0f7815ee6f3d516 97e7e2cebea826b8 b0fa1845f72a76d6 a468bdfcdf0aa9c7 da84e11338387da7 b30d5ead8e39f2bc 178a43d2a008503e 6dfaa705a8a06c70
aa047f07c5ae8db4 305bbb420c5d5ecc 0832803159750f49 9080254fb79bab1a 61c285ca245774a4 2aae035cfb61f97a f5289075c9ab39e5 e65c423732dae795
4b22cf0d9da8de3d 2626ea2fa1f9abcf d1e17e6ec4a88da6 1657442827ff640a fd155a40df15f630 ffeb596f299f58b2 be4ee4ed3975df87 fc7f9df7991b87bc
`
  .trim()
  .split(/\s+/);

function tag(key: Uint8Array, data: Uint8Array, where = at): Buffer {
  mem.set(key, at + 4096);
  mem.set(data, where);
  x.qn_chaskey(at + 4096, where, data.length, at + 8192);
  return Buffer.from(mem.subarray(at + 8192, at + 8208));
}

const KEY = Uint8Array.from({ length: 16 }, (_, i) => i * 0x11);

describe("core Chaskey-12", () => {
  it("has the reference implementation's 64 known-answer vectors", () => {
    expect(VECTORS).toHaveLength(64);
    for (let n = 0; n < 64; n++) {
      const m = Uint8Array.from({ length: n }, (_, i) => i);
      expect(tag(KEY, m).subarray(0, 8).toString("hex"), `length ${n}`).toBe(VECTORS[n]);
    }
  });

  it("gives the same tag at any alignment and never reads past the message", () => {
    const m = Uint8Array.from({ length: 45 }, (_, i) => i);
    for (let off = 0; off < 4; off++) {
      mem.fill(0xa5, at + 256, at + 512); // bytes past the message must not count
      expect(
        tag(KEY, m, at + 256 + off)
          .subarray(0, 8)
          .toString("hex"),
      ).toBe(VECTORS[45]);
      mem.fill(0x5a, at + 256, at + 512);
      expect(
        tag(KEY, m, at + 256 + off)
          .subarray(0, 8)
          .toString("hex"),
      ).toBe(VECTORS[45]);
    }
  });

  it("changes with every key bit and every message bit", () => {
    const m = Uint8Array.from({ length: 56 }, (_, i) => i * 7);
    const base = tag(KEY, m).toString("hex");
    for (let b = 0; b < 128; b++) {
      const k = KEY.slice();
      k[b >> 3] ^= 1 << (b & 7);
      expect(tag(k, m).toString("hex")).not.toBe(base);
    }
    for (let b = 0; b < 56 * 8; b++) {
      const d = m.slice();
      d[b >> 3] ^= 1 << (b & 7);
      expect(tag(KEY, d).toString("hex")).not.toBe(base);
    }
  });
});
