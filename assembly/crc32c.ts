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
//    sixteen dependent ones, about 6x faster in V8 (95 vs 587 ns for 280 bytes).

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

/** Switch to slicing-by-16 with its tables at `at` (CRC_WIDE_BYTES that the
 *  shell never touches again). Tk[i] is the CRC of byte i followed by k
 *  zero bytes. Returns whether the core switched. */
export function crc32c_widen(at: usize): bool {
  crc32c_init(); // T0 may not be filled yet (widen can come before qn_init)
  for (let i: u32 = 0; i < 256; i++) {
    let c = t0(i);
    for (let k: usize = 1; k < SLICES; k++) {
      c = t0(c & 0xFF) ^ (c >>> 8);
      store<u32>(at + ((k - 1) << 10) + (<usize>i << 2), c);
    }
  }
  // Switch only if both ways agree over the byte table itself (1 KiB of
  // varied bytes): tables that did not come out right (memory overlapping
  // the core's own data, say) leave the byte-wise CRC in place; checked
  // once, here, not on every call. (This second call also keeps Binaryen from
  // inlining the wide loop into crc32c_update, which made that too big
  // for GCC to inline on the device: +280 instructions per QoS 2
  // exchange on the M7.)
  WIDE = at;
  const wide = crc32c_update_wide(0xFFFFFFFF, TABLE, 1024);
  WIDE = 0;
  if (wide == crc32c_update(0xFFFFFFFF, TABLE, 1024)) WIDE = at;
  return WIDE != 0;
}

/** Slicing-by-16 over `len` bytes (a multiple of 16) at `ptr`, with the
 *  tables at WIDE. */
function crc32c_update_wide(crc: u32, ptr: usize, len: i32): u32 {
  const w = WIDE;
  for (let i = 0; i < len; i += 16) {
    const p = ptr + i;
    const a = load<u32>(p) ^ crc;
    // Tk[x] at w + (k-1) KiB, the offset a load immediate. Bytes 4..15 do
    // not depend on crc: loaded as bytes and xored in a tree, they are
    // ready while a's lookups wait for the previous block. (V8 does not
    // reassociate xors: one left-to-right chain of sixteen made every
    // block wait for all of them; with shifts and masks for every byte and
    // the table base added per lookup, 280 bytes took 134 ns, now 94.)
    const rest =
        ((load<u32>(w + (<u32>load<u8>(p, 4) << 2), 10240) ^ load<u32>(w + (<u32>load<u8>(p, 5) << 2), 9216))
       ^ (load<u32>(w + (<u32>load<u8>(p, 6) << 2), 8192) ^ load<u32>(w + (<u32>load<u8>(p, 7) << 2), 7168)))
      ^ ((load<u32>(w + (<u32>load<u8>(p, 8) << 2), 6144) ^ load<u32>(w + (<u32>load<u8>(p, 9) << 2), 5120))
       ^ (load<u32>(w + (<u32>load<u8>(p, 10) << 2), 4096) ^ load<u32>(w + (<u32>load<u8>(p, 11) << 2), 3072)))
      ^ ((load<u32>(w + (<u32>load<u8>(p, 12) << 2), 2048) ^ load<u32>(w + (<u32>load<u8>(p, 13) << 2), 1024))
       ^ (load<u32>(w + (<u32>load<u8>(p, 14) << 2), 0) ^ t0(<u32>load<u8>(p, 15))));
    crc = rest
      ^ ((load<u32>(w + ((a & 0xFF) << 2), 14336) ^ load<u32>(w + (((a >>> 8) & 0xFF) << 2), 13312))
       ^ (load<u32>(w + (((a >>> 16) & 0xFF) << 2), 12288) ^ load<u32>(w + ((a >>> 24) << 2), 11264)));
  }
  return crc;
}

/** Continue a CRC over `len` bytes at `ptr`. Start with 0xFFFFFFFF, finish
 *  with `~crc`. */
export function crc32c_update(crc: u32, ptr: usize, len: i32): u32 {
  let i = 0;
  if (WIDE != 0) {
    i = len & ~15;
    crc = crc32c_update_wide(crc, ptr, i);
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
