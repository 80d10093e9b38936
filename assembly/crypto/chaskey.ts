// Chaskey-12 (Mouha et al., ISO/IEC 29192-6:2019): a MAC built for 32-bit
// microcontrollers. 128-bit key, 128-bit state, additions, rotations and
// XORs on 32-bit words only, so it runs as straight register code on the
// Cortex-M7 (ARM folds the rotations into the next add or XOR). It keys the
// per-frame MAC of auth mode 2: HMAC-SHA-256 cost ~9,200 instructions per
// 56-byte frame on the M7, Chaskey-12 a fraction of that. The handshake
// proofs and the key derivation stay HMAC-SHA-256 (once per session).
//
// Little-endian words, as the reference: the key is bytes 0..15 read as
// four u32 LE; the tag is the state written out LE and truncated.

/** A key schedule: K, K1 = 2K, K2 = 4K in GF(2^128) (x^128 + x^7 + x^2 +
 *  x + 1), 4 words each. */
export const CHASKEY_SCHEDULE: i32 = 48;
// The last block, padded.
const LAST = memory.data(16, 4);
const TAG = memory.data(16, 4);

/** Double the 4-word value at `src` into `dst` (the reference's TIMESTWO);
 *  constant time: the reduction is a mask, not a branch. */
function times_two(dst: usize, src: usize): void {
  const a = load<u32>(src), b = load<u32>(src, 4), c = load<u32>(src, 8), d = load<u32>(src, 12);
  store<u32>(dst, (a << 1) ^ (0x87 & (0 - (d >> 31))));
  store<u32>(dst, (b << 1) | (a >> 31), 4);
  store<u32>(dst, (c << 1) | (b >> 31), 8);
  store<u32>(dst, (d << 1) | (c >> 31), 12);
}

/** Schedule the 16-byte key at `key` into `ks` (CHASKEY_SCHEDULE bytes):
 *  the two subkeys are derived here, once per key. */
export function chaskey_key(ks: usize, key: usize): void {
  memory.copy(ks, key, 16);
  times_two(ks + 16, ks);
  times_two(ks + 32, ks + 16);
}

/** Tag of `len` bytes at `p`: returns where its 16 bytes are (valid until
 *  the next call; a truncated tag is its first bytes). */
export function chaskey_tag(ks: usize, p: usize, len: i32): usize {
  const start = p;
  let v0 = load<u32>(ks), v1 = load<u32>(ks, 4), v2 = load<u32>(ks, 8), v3 = load<u32>(ks, 12);
  // Every block but the last one.
  const end = len > 0 ? p + (<usize>((len - 1) >> 4) << 4) : p;
  while (p != end) {
    v0 ^= load<u32>(p); v1 ^= load<u32>(p, 4); v2 ^= load<u32>(p, 8); v3 ^= load<u32>(p, 12);
    for (let r = 0; r < 6; r++) {
      v0 += v1; v1 = rotl<u32>(v1, 5) ^ v0; v0 = rotl<u32>(v0, 16);
      v2 += v3; v3 = rotl<u32>(v3, 8) ^ v2;
      v0 += v3; v3 = rotl<u32>(v3, 13) ^ v0;
      v2 += v1; v1 = rotl<u32>(v1, 7) ^ v2; v2 = rotl<u32>(v2, 16);
      v0 += v1; v1 = rotl<u32>(v1, 5) ^ v0; v0 = rotl<u32>(v0, 16);
      v2 += v3; v3 = rotl<u32>(v3, 8) ^ v2;
      v0 += v3; v3 = rotl<u32>(v3, 13) ^ v0;
      v2 += v1; v1 = rotl<u32>(v1, 7) ^ v2; v2 = rotl<u32>(v2, 16);
    }
    p += 16;
  }
  // The last block: whole (a non-empty message that fills it) under K1, or
  // padded with 0x01 then zeros under K2. The tail is copied into LAST so
  // nothing past the message is ever read. Its permutation is written out
  // again rather than shared with the loop's: one loop with a last-block
  // test measured ~70 instructions slower per frame on the M7.
  const rest = len - <i32>(end - start); // bytes left at p (0..16)
  let l: usize = ks + 32;
  let last: usize = LAST;
  if (len > 0 && rest == 16) {
    l = ks + 16;
    last = p;
  } else {
    store<u64>(LAST, 0); store<u64>(LAST, 0, 8);
    let i = 0;
    for (; i + 4 <= rest; i += 4) store<u32>(LAST + i, load<u32>(p + i));
    for (; i < rest; i++) store<u8>(LAST + i, load<u8>(p + i));
    store<u8>(LAST + rest, 1);
  }
  const l0 = load<u32>(l), l1 = load<u32>(l, 4), l2 = load<u32>(l, 8), l3 = load<u32>(l, 12);
  v0 ^= load<u32>(last) ^ l0; v1 ^= load<u32>(last, 4) ^ l1;
  v2 ^= load<u32>(last, 8) ^ l2; v3 ^= load<u32>(last, 12) ^ l3;
  for (let r = 0; r < 6; r++) {
    v0 += v1; v1 = rotl<u32>(v1, 5) ^ v0; v0 = rotl<u32>(v0, 16);
    v2 += v3; v3 = rotl<u32>(v3, 8) ^ v2;
    v0 += v3; v3 = rotl<u32>(v3, 13) ^ v0;
    v2 += v1; v1 = rotl<u32>(v1, 7) ^ v2; v2 = rotl<u32>(v2, 16);
    v0 += v1; v1 = rotl<u32>(v1, 5) ^ v0; v0 = rotl<u32>(v0, 16);
    v2 += v3; v3 = rotl<u32>(v3, 8) ^ v2;
    v0 += v3; v3 = rotl<u32>(v3, 13) ^ v0;
    v2 += v1; v1 = rotl<u32>(v1, 7) ^ v2; v2 = rotl<u32>(v2, 16);
  }
  store<u32>(TAG, v0 ^ l0); store<u32>(TAG, v1 ^ l1, 4);
  store<u32>(TAG, v2 ^ l2, 8); store<u32>(TAG, v3 ^ l3, 12);
  return TAG;
}
