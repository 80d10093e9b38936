// SHA-256 and HMAC-SHA-256 of the core (the handshake proofs and the frame
// MAC) against node:crypto: both ends of a link run the same core, so only
// an independent implementation can catch a wrong hash.
import { describe, it, expect } from "vitest";
import { createHash, createHmac } from "node:crypto";
import { loadCore } from "../../host/core.ts";
import { rng } from "./jsframe.ts";
import { raw } from "../support/raw-core.ts";

const core = loadCore();
const x = raw(core).x,
  mem = raw(core).mem,
  at = raw(core).scratchBase;

function sha(data: Uint8Array): string {
  mem.set(data, at);
  x.qn_sha256(at, data.length, at + 8192);
  return Buffer.from(mem.subarray(at + 8192, at + 8224)).toString("hex");
}
function hmac(key: Uint8Array, data: Uint8Array): string {
  mem.set(key, at + 4096);
  mem.set(data, at);
  x.qn_hmac(at + 4096, key.length, at, data.length, at + 8192);
  return Buffer.from(mem.subarray(at + 8192, at + 8224)).toString("hex");
}

describe("core SHA-256 and HMAC-SHA-256", () => {
  it("match node:crypto for every length 0..300 across block boundaries", () => {
    const r = rng(42);
    for (let n = 0; n <= 300; n++) {
      const d = Uint8Array.from({ length: n }, () => r() & 0xff);
      expect(sha(d)).toBe(createHash("sha256").update(d).digest("hex"));
      const key = Uint8Array.from({ length: 1 + (r() % 100) }, () => r() & 0xff); // keys over 64 bytes are hashed first
      expect(hmac(key, d)).toBe(createHmac("sha256", key).update(d).digest("hex"));
    }
  });

  it("has the FIPS 180-2 and RFC 4231 test vectors", () => {
    expect(sha(Buffer.from("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // RFC 4231 test case 2.
    expect(hmac(Buffer.from("Jefe"), Buffer.from("what do ya want for nothing?"))).toBe(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
  });
});
