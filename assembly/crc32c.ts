// CRC-32C (Castagnoli): poly 0x1EDC6F41 (reflected 0x82F63B78), init and
// xorout 0xFFFFFFFF, reflected in and out; check value of "123456789" is
// 0xE3069283. Chosen over CRC-16/CCITT for frames because it keeps Hamming
// distance 6 up to 5,243 data bits (a full 284-byte frame is 2,272 bits)
// where CRC-16 drops to 4, and the journal needs 32 bits anyway.
//
// Two speeds, one result:
//  - Always: a byte-wise table (1 KiB of the core's static memory) filled
//    at init, stepped four times per 32-bit load. The cheapest software CRC
//    per byte on a Cortex-M7 without a CRC unit, and small enough for the
//    device's RAM budget.
//  - When a shell has RAM to spare it may hand the core 15 KiB past its
//    static data (qn_crc32c_widen: the Node host does): slicing-by-16,
//    sixteen independent table lookups per 16 bytes instead of a chain of
//    sixteen dependent ones, about 4x faster on an out-of-order CPU.

const TABLE = memory.data(256 * 4, 4);
/** Tables 1..15 of slicing-by-16 (Tk at WIDE + (k-1) KiB), or 0. */
let WIDE: usize = 0;
const SLICES: usize = 16;
export const CRC_WIDE_BYTES: i32 = <i32>(SLICES - 1) * 1024;

export function crc32c_init(): void {
  for (let i: u32 = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = (c & 1) ? (c >>> 1) ^ 0x82F63B78 : c >>> 1;
    store<u32>(TABLE + (i << 2), c);
  }
}

@inline function t0(i: u32): u32 { return load<u32>(TABLE + (<usize>i << 2)); }
@inline function tk(k: usize, i: u32): u32 { return load<u32>(WIDE + ((k - 1) << 10) + (<usize>i << 2)); }

/** Switch to slicing-by-16 with its tables at `at` (CRC_WIDE_BYTES that the
 *  shell never touches again). Tk[i] is the CRC of byte i followed by k
 *  zero bytes. */
export function crc32c_widen(at: usize): void {
  crc32c_init(); // T0 may not be filled yet (widen can come before qn_init)
  for (let i: u32 = 0; i < 256; i++) {
    let c = t0(i);
    for (let k: usize = 1; k < SLICES; k++) {
      c = t0(c & 0xFF) ^ (c >>> 8);
      store<u32>(at + ((k - 1) << 10) + (<usize>i << 2), c);
    }
  }
  WIDE = at;
}

/** Continue a CRC over `len` bytes at `ptr`. Start with 0xFFFFFFFF, finish
 *  with `~crc`. */
export function crc32c_update(crc: u32, ptr: usize, len: i32): u32 {
  let i = 0;
  if (WIDE != 0) {
    for (; i + 16 <= len; i += 16) {
      const a = load<u32>(ptr + i) ^ crc;
      const b = load<u32>(ptr + i + 4);
      const c = load<u32>(ptr + i + 8);
      const d = load<u32>(ptr + i + 12);
      crc = tk(15, a & 0xFF) ^ tk(14, (a >>> 8) & 0xFF) ^ tk(13, (a >>> 16) & 0xFF) ^ tk(12, a >>> 24)
          ^ tk(11, b & 0xFF) ^ tk(10, (b >>> 8) & 0xFF) ^ tk(9, (b >>> 16) & 0xFF) ^ tk(8, b >>> 24)
          ^ tk(7, c & 0xFF) ^ tk(6, (c >>> 8) & 0xFF) ^ tk(5, (c >>> 16) & 0xFF) ^ tk(4, c >>> 24)
          ^ tk(3, d & 0xFF) ^ tk(2, (d >>> 8) & 0xFF) ^ tk(1, (d >>> 16) & 0xFF) ^ t0(d >>> 24);
    }
  }
  // Four bytes per load: the CRC is reflected and both ends are little-
  // endian, so xoring a word in and stepping the table four times equals
  // four byte steps, with a quarter of the (bounds-checked) byte loads.
  for (; i + 4 <= len; i += 4) {
    crc ^= load<u32>(ptr + i);
    crc = t0(crc & 0xFF) ^ (crc >>> 8);
    crc = t0(crc & 0xFF) ^ (crc >>> 8);
    crc = t0(crc & 0xFF) ^ (crc >>> 8);
    crc = t0(crc & 0xFF) ^ (crc >>> 8);
  }
  for (; i < len; i++) {
    crc = t0((crc ^ <u32>load<u8>(ptr + i)) & 0xFF) ^ (crc >>> 8);
  }
  return crc;
}

export function crc32c(ptr: usize, len: i32): u32 {
  return ~crc32c_update(0xFFFFFFFF, ptr, len);
}
