// Consistent Overhead Byte Stuffing: removes every 0x00 from a frame so 0x00
// can delimit frames on a byte stream. A receiver that starts mid-stream, or
// sees garbage, resynchronises at the next 0x00: no escape state can be lost.
// Overhead is one byte per 254 (at most), unlike SLIP/HDLC byte stuffing
// whose worst case doubles the frame. Decoding is streamed in decoder.ts;
// cobs_decode here decodes one whole frame (the pure frame codec, probes).
//
// Both move data eight, then four bytes at a time: a word without a zero
// byte is copied whole; the word holding the next zero finishes byte by
// byte. Unaligned word access is fine in Wasm and on the Cortex-M7. The
// 8-byte step pays on both ends: V8 runs it in one register, and on the M7
// wasm2c checks one bound per 8 bytes instead of two (a 32-byte frame's
// receive 1,368 -> 1,248 instructions, encode 1,968 -> 1,888; fed one
// byte per call it costs 11,368 -> 11,928).
import { Status } from "./status";

/** Nonzero when one of the four bytes of w is 0x00. */
@inline export function has_zero_byte(w: u32): bool {
  return ((w - 0x01010101) & ~w & 0x80808080) != 0;
}

/** Copy bytes from src to dst up to the first zero or n bytes; returns the
 *  count copied (n when no zero was met). dst may equal src or lie below
 *  it (in-place decoding): each word is read before its store. */
@inline export function copy_nonzero(dst: usize, src: usize, n: i32): i32 {
  let k = 0;
  while (k + 8 <= n) {
    const w = load<u64>(src + k);
    if (((w - 0x0101010101010101) & ~w & 0x8080808080808080) != 0) break;
    store<u64>(dst + k, w);
    k += 8;
  }
  while (k + 4 <= n) {
    const w = load<u32>(src + k);
    if (has_zero_byte(w)) break;
    store<u32>(dst + k, w);
    k += 4;
  }
  while (k < n) {
    const b = load<u8>(src + k);
    if (b == 0) break;
    store<u8>(dst + k, b);
    k++;
  }
  return k;
}

/** Encode `len` bytes at `src` into `dst` (capacity `cap`), appending the
 *  0x00 delimiter. Returns the encoded length or ERR_NO_SPACE. The output
 *  is the textbook encoder's, byte for byte. */
export function cobs_encode(src: usize, len: i32, dst: usize, cap: i32): i32 {
  if (len + len / 254 + 2 > cap) return Status.ERR_NO_SPACE;
  let i: i32 = 0;
  let out: i32 = 0;
  while (true) {
    // One block: up to 254 data bytes before the next zero, after a code
    // byte that says how many (+1).
    const limit = min(254, len - i);
    const k = copy_nonzero(dst + out + 1, src + i, limit);
    store<u8>(dst + out, <u8>(k + 1));
    out += k + 1;
    i += k;
    if (k == 254) {
      // A full block: no implied zero. Stop only if the data ended exactly
      // here (the textbook encoder still emits a final code byte 1).
      if (i == len) { store<u8>(dst + out++, 1); break; }
      continue;
    }
    if (i >= len) break;
    i++; // the zero this block stands for
    if (i == len) { store<u8>(dst + out++, 1); break; }
  }
  store<u8>(dst + out++, 0);
  return out;
}

/** Decode one complete COBS frame (without its delimiter) of `len` bytes at
 *  `src` into `dst` (which may be `src`: decoding in place). Returns the
 *  decoded length, ERR_COBS for a zero byte or a block running past the
 *  end, ERR_NO_SPACE when `cap` is too small. */
export function cobs_decode(src: usize, len: i32, dst: usize, cap: i32): i32 {
  let i: i32 = 0;
  let out: i32 = 0;
  while (i < len) {
    const code = <i32>load<u8>(src + i++);
    const n = code - 1;
    if (code == 0 || i + n > len) return Status.ERR_COBS;
    if (out + n > cap) return Status.ERR_NO_SPACE;
    if (copy_nonzero(dst + out, src + i, n) != n) return Status.ERR_COBS;
    out += n;
    i += n;
    if (code != 0xFF && i < len) {
      if (out >= cap) return Status.ERR_NO_SPACE;
      store<u8>(dst + out++, 0);
    }
  }
  return out;
}
