// CRC-32C (Castagnoli): poly 0x1EDC6F41 (reflected 0x82F63B78), init and
// xorout 0xFFFFFFFF, reflected in and out; check value of "123456789" is
// 0xE3069283. Chosen over CRC-16/CCITT for frames because it keeps Hamming
// distance 6 up to 5,243 data bits (a full 284-byte frame is 2,272 bits)
// where CRC-16 drops to 4, and the journal needs 32 bits anyway.
// Byte-wise table (1 KiB of linear memory) filled once at init: the cheapest
// software CRC per byte on a Cortex-M7 without a CRC unit.

const TABLE = memory.data(256 * 4, 4);

export function crc32c_init(): void {
  for (let i: u32 = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = (c & 1) ? (c >>> 1) ^ 0x82F63B78 : c >>> 1;
    store<u32>(TABLE + (i << 2), c);
  }
}

/** Continue a CRC over `len` bytes at `ptr`. Start with 0xFFFFFFFF, finish
 *  with `~crc`. */
export function crc32c_update(crc: u32, ptr: usize, len: i32): u32 {
  let i = 0;
  // Four bytes per load: the CRC is reflected and both ends are little-
  // endian, so xoring a word in and stepping the table four times equals
  // four byte steps, with a quarter of the (bounds-checked) byte loads.
  for (; i + 4 <= len; i += 4) {
    crc ^= load<u32>(ptr + i);
    crc = load<u32>(TABLE + ((crc & 0xFF) << 2)) ^ (crc >>> 8);
    crc = load<u32>(TABLE + ((crc & 0xFF) << 2)) ^ (crc >>> 8);
    crc = load<u32>(TABLE + ((crc & 0xFF) << 2)) ^ (crc >>> 8);
    crc = load<u32>(TABLE + ((crc & 0xFF) << 2)) ^ (crc >>> 8);
  }
  for (; i < len; i++) {
    crc = load<u32>(TABLE + (((crc ^ <u32>load<u8>(ptr + i)) & 0xFF) << 2)) ^ (crc >>> 8);
  }
  return crc;
}

export function crc32c(ptr: usize, len: i32): u32 {
  return ~crc32c_update(0xFFFFFFFF, ptr, len);
}
