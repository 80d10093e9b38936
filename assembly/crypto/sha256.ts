// SHA-256 (FIPS 180-4) over static state: one hash in progress at a time,
// which is all the handshake and per-frame MAC need. No allocation.
//
// State (112 bytes): +0 H[8] u32  +32 total length u64  +40 buffered u32
//                    +48 block buffer [64]
const K = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const H = memory.data(32, 4);
const BLOCK = memory.data(64, 4);
const W = memory.data(256, 4);
let total: u64 = 0;
let buffered: i32 = 0;

@inline function rotr(x: u32, n: u32): u32 { return (x >>> n) | (x << (32 - n)); }
@inline function be32(p: usize): u32 { return bswap<u32>(load<u32>(p)); }

@inline function bigS0(x: u32): u32 { return rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22); }
@inline function bigS1(x: u32): u32 { return rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25); }
@inline function ch(x: u32, y: u32, z: u32): u32 { return (x & y) ^ (~x & z); }
@inline function maj(x: u32, y: u32, z: u32): u32 { return (x & y) ^ (x & z) ^ (y & z); }
/** K[i] + W[i]. */
@inline function kw(i: usize): u32 { return load<u32>(K + (i << 2)) + load<u32>(W + (i << 2)); }

function compress(p: usize): void {
  for (let i = 0; i < 16; i++) store<u32>(W + (<usize>i << 2), be32(p + (<usize>i << 2)));
  for (let i = 16; i < 64; i++) {
    const w15 = load<u32>(W + (<usize>(i - 15) << 2)), w2 = load<u32>(W + (<usize>(i - 2) << 2));
    const s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >>> 3);
    const s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >>> 10);
    store<u32>(W + (<usize>i << 2), load<u32>(W + (<usize>(i - 16) << 2)) + s0 + load<u32>(W + (<usize>(i - 7) << 2)) + s1);
  }
  let a = load<u32>(H), b = load<u32>(H, 4), c = load<u32>(H, 8), d = load<u32>(H, 12);
  let e = load<u32>(H, 16), f = load<u32>(H, 20), g = load<u32>(H, 24), h = load<u32>(H, 28);
  // Eight rounds per pass with the roles of a..h rotated in the source
  // instead of shifting eight values after every round: round r adds into
  // the variable that plays d and h, the others keep their values (the
  // shifts were ~15 % of a block on the Cortex-M7).
  for (let i: usize = 0; i < 64; i += 8) {
    let t = h + bigS1(e) + ch(e, f, g) + kw(i); d += t; h = t + bigS0(a) + maj(a, b, c);
    t = g + bigS1(d) + ch(d, e, f) + kw(i + 1); c += t; g = t + bigS0(h) + maj(h, a, b);
    t = f + bigS1(c) + ch(c, d, e) + kw(i + 2); b += t; f = t + bigS0(g) + maj(g, h, a);
    t = e + bigS1(b) + ch(b, c, d) + kw(i + 3); a += t; e = t + bigS0(f) + maj(f, g, h);
    t = d + bigS1(a) + ch(a, b, c) + kw(i + 4); h += t; d = t + bigS0(e) + maj(e, f, g);
    t = c + bigS1(h) + ch(h, a, b) + kw(i + 5); g += t; c = t + bigS0(d) + maj(d, e, f);
    t = b + bigS1(g) + ch(g, h, a) + kw(i + 6); f += t; b = t + bigS0(c) + maj(c, d, e);
    t = a + bigS1(f) + ch(f, g, h) + kw(i + 7); e += t; a = t + bigS0(b) + maj(b, c, d);
  }
  store<u32>(H, load<u32>(H) + a); store<u32>(H, load<u32>(H, 4) + b, 4);
  store<u32>(H, load<u32>(H, 8) + c, 8); store<u32>(H, load<u32>(H, 12) + d, 12);
  store<u32>(H, load<u32>(H, 16) + e, 16); store<u32>(H, load<u32>(H, 20) + f, 20);
  store<u32>(H, load<u32>(H, 24) + g, 24); store<u32>(H, load<u32>(H, 28) + h, 28);
}

export function sha256_init(): void {
  store<u32>(H, 0x6a09e667); store<u32>(H, 0xbb67ae85, 4); store<u32>(H, 0x3c6ef372, 8); store<u32>(H, 0xa54ff53a, 12);
  store<u32>(H, 0x510e527f, 16); store<u32>(H, 0x9b05688c, 20); store<u32>(H, 0x1f83d9ab, 24); store<u32>(H, 0x5be0cd19, 28);
  total = 0;
  buffered = 0;
}

export function sha256_update(p: usize, len: i32): void {
  total += <u64>len;
  let i = 0;
  if (buffered > 0) {
    const take = min(64 - buffered, len);
    memory.copy(BLOCK + buffered, p, take);
    buffered += take;
    i = take;
    if (buffered < 64) return;
    compress(BLOCK);
    buffered = 0;
  }
  for (; i + 64 <= len; i += 64) compress(p + i);
  if (i < len) {
    memory.copy(BLOCK, p + i, len - i);
    buffered = len - i;
  }
}

/** Finish and write the 32-byte digest to `out`. */
export function sha256_final(out: usize): void {
  const bits = total << 3;
  store<u8>(BLOCK + buffered++, 0x80);
  if (buffered > 56) {
    memory.fill(BLOCK + buffered, 0, 64 - buffered);
    compress(BLOCK);
    buffered = 0;
  }
  memory.fill(BLOCK + buffered, 0, 56 - buffered);
  store<u64>(BLOCK + 56, bswap<u64>(bits));
  compress(BLOCK);
  for (let i = 0; i < 8; i++) store<u32>(out + (<usize>i << 2), bswap<u32>(load<u32>(H + (<usize>i << 2))));
}

/** Save / restore the chaining state after whole blocks (HMAC precomputes
 *  its keyed inner and outer states this way: 2 compressions saved per MAC). */
export function sha256_save(dst: usize): void { memory.copy(dst, H, 32); }
export function sha256_restore(src: usize, blocks: u64): void {
  memory.copy(H, src, 32);
  total = blocks * 64;
  buffered = 0;
}
