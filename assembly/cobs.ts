// Consistent Overhead Byte Stuffing: removes every 0x00 from a frame so 0x00
// can delimit frames on a byte stream. A receiver that starts mid-stream, or
// sees garbage, resynchronises at the next 0x00: no escape state can be lost.
// Overhead is one byte per 254 (at most), unlike SLIP/HDLC byte stuffing
// whose worst case doubles the frame. Decoding is streamed in decoder.ts.
import { Status } from "./status";

/** Encode `len` bytes at `src` into `dst` (capacity `cap`), appending the
 *  0x00 delimiter. Returns the encoded length or ERR_NO_SPACE. */
export function cobs_encode(src: usize, len: i32, dst: usize, cap: i32): i32 {
  if (len + len / 254 + 2 > cap) return Status.ERR_NO_SPACE;
  // Block by block: find the next zero (or 254 data bytes), copy the run in
  // one go, write its code byte. Same output as the byte-wise textbook loop.
  let i: i32 = 0;
  let out: i32 = 0;
  while (true) {
    let k = 0;
    const limit = min(254, len - i);
    while (k < limit && load<u8>(src + i + k) != 0) k++;
    store<u8>(dst + out, <u8>(k + 1));
    memory.copy(dst + out + 1, src + i, k);
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
 *  `src` into `dst`. Returns the decoded length, ERR_COBS for a zero byte or
 *  a block running past the end, ERR_NO_SPACE when `cap` is too small.
 *  The live stream uses the streaming decoder; this serves probes and tests. */
export function cobs_decode(src: usize, len: i32, dst: usize, cap: i32): i32 {
  let i: i32 = 0;
  let out: i32 = 0;
  while (i < len) {
    const code = <i32>load<u8>(src + i++);
    if (code == 0 || i + code - 1 > len) return Status.ERR_COBS;
    for (let k = 1; k < code; k++) {
      const b = load<u8>(src + i++);
      if (b == 0) return Status.ERR_COBS;
      if (out >= cap) return Status.ERR_NO_SPACE;
      store<u8>(dst + out++, b);
    }
    if (code != 0xFF && i < len) {
      if (out >= cap) return Status.ERR_NO_SPACE;
      store<u8>(dst + out++, 0);
    }
  }
  return out;
}
