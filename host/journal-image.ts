// Does a storage region hold a QN journal? The host's reading of the half
// header the core writes (assembly/journal.ts): each half a journal uses
// starts with a record of type R_HEADER whose data is the half's
// generation:
//   +0 magic 0xA5  +1 type 1  +2 u16 data length 4  +4 u32 LSN  +8 u32 time
//   +12 u32 generation  +16 u32 CRC-32C over bytes 0..15
// A journal has such a header in at least one half (compaction writes the
// new half's header before it erases the old half); a region that is all
// 0xFF is a journal file made but never opened. The gateway asks before it
// takes an existing file as a device's journal, so that a path naming some
// other file is refused instead of formatted over. test/host/journal-image.test.ts
// pins this reading to the core (journals it wrote, before and after
// compactions, are recognised; other bytes are not).
import { crc32c } from "../tools/crc32c.mjs";
import { JournalRecord } from "./abi.ts";

const MAGIC = 0xa5;
const HEADER_DATA = 4;
const HEADER_CRC_AT = 16;

function headerAt(b: Uint8Array, off: number): boolean {
  if (off + HEADER_CRC_AT + 4 > b.length) return false;
  const v = new DataView(b.buffer, b.byteOffset + off, HEADER_CRC_AT + 4);
  return (
    v.getUint8(0) === MAGIC &&
    v.getUint8(1) === JournalRecord.HEADER &&
    v.getUint16(2, true) === HEADER_DATA &&
    v.getUint32(HEADER_CRC_AT, true) === crc32c(b.subarray(off, off + HEADER_CRC_AT))
  );
}

/** Why the region `b` (a whole journal file) is not a QN journal, or
 *  undefined when it is one (or blank). */
export function journalImageProblem(b: Uint8Array): string | undefined {
  if (b.every((x) => x === 0xff)) return undefined;
  if (headerAt(b, 0) || headerAt(b, b.length >> 1)) return undefined;
  return "holds no QN journal header";
}
