// HMAC-SHA-256 (RFC 2104) with the key's inner and outer states computed
// once per key (hmac_key), so a MAC costs two compressions fewer: that
// matters for the per-frame MAC on a Cortex-M7. Constant-time compare.
import { sha256_init, sha256_update, sha256_final, sha256_save, sha256_restore } from "./sha256";

const PAD = memory.data(64, 4);
const IN_STATE = memory.data(32, 4);
const OUT_STATE = memory.data(32, 4);
const INNER = memory.data(32, 4);

/** Set the MAC key (any length; longer than 64 bytes is hashed first). */
export function hmac_key(key: usize, len: i32): void {
  memory.fill(PAD, 0, 64);
  if (len > 64) {
    sha256_init();
    sha256_update(key, len);
    sha256_final(PAD);
  } else {
    memory.copy(PAD, key, len);
  }
  for (let i = 0; i < 64; i++) store<u8>(PAD + i, load<u8>(PAD + i) ^ 0x36);
  sha256_init();
  sha256_update(PAD, 64);
  sha256_save(IN_STATE);
  for (let i = 0; i < 64; i++) store<u8>(PAD + i, load<u8>(PAD + i) ^ (0x36 ^ 0x5c));
  sha256_init();
  sha256_update(PAD, 64);
  sha256_save(OUT_STATE);
  memory.fill(PAD, 0, 64); // no key material left behind
}

export function hmac_begin(): void { sha256_restore(IN_STATE, 1); }
export function hmac_update(p: usize, len: i32): void { sha256_update(p, len); }

/** Finish into the 32-byte `out`. */
export function hmac_end(out: usize): void {
  sha256_final(INNER);
  sha256_restore(OUT_STATE, 1);
  sha256_update(INNER, 32);
  sha256_final(out);
}

/** Compare `n` bytes without an early exit (no timing oracle). */
export function ct_equal(a: usize, b: usize, n: i32): bool {
  let d: u32 = 0;
  for (let i = 0; i < n; i++) d |= <u32>(load<u8>(a + i) ^ load<u8>(b + i));
  return d == 0;
}
