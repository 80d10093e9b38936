// The persistent journal: an append-only log of records in the storage
// region (a flash sector on the device, a file on the host), split into two
// halves. Records are appended to the live half; when it fills, the live
// state (given by the QoS layer through a callback-free "compact" pass) is
// written to the other half under a higher generation, then the old half
// is erased. Recovery picks the committed half (one holding a STATE
// record, which compaction writes last) with the highest generation and
// replays its records up to the first one whose CRC fails: a torn final
// record (power cut mid-write) is detected and dropped, and the log is then
// compacted so the next append never lands on half-programmed flash.
//
// Record (padded to ALIGN bytes, the flash programming unit):
//   +0 magic 0xA5  +1 type  +2 u16 data length  +4 u32 LSN  +8 u32 time
//   +12 data  +12+len u32 CRC-32C over bytes 0 .. 12+len-1
// Half header: a record of type R_HEADER whose data is the u32 generation.
import { Status } from "./status";
import { crc32c } from "./crc32c";
import { storage_read, storage_write, storage_erase } from "./bindings/env";
import { MAX_FRAME } from "./config";

export const ALIGN: u32 = 32;
const MAGIC: u8 = 0xA5;
export const REC_HEAD: i32 = 12;
/** Journal record types: the storage format, stable numbers. */
export const R_HEADER: u8 = 1; // a half's header: its generation
export const R_OUT: u8 = 2; // sender: a QoS2 message (raw frame) before its first send
export const R_REL: u8 = 3; // sender: PUBREC received up to pid (u32)
export const R_DONE: u8 = 4; // sender: PUBCOMP received up to pid (u32)
export const R_IN: u8 = 5; // receiver: a QoS2 message (raw frame) accepted
export const R_DELIVERED: u8 = 6; // receiver: handed to the application up to pid (u32)
export const R_STATE: u8 = 7; // checkpoint of counters after compaction
export const R_EVENT: u8 = 8; // operation log entry
export const R_IDS: u8 = 9; // id lease end (i64 ms) and node (u32): ids.ts

const REC = memory.data(MAX_FRAME + 64, 8);
let regionSize: u32 = 0;
let half: u32 = 0;       // 0 or 1: the live half
let tail: u32 = 0;       // next free offset within the live half
let generation: u32 = 0;
let lsn: u32 = 0;
let writes: u32 = 0;
let compactions: u32 = 0;
let tornDropped: u32 = 0;
let ready: bool = false;
let fresh: bool = false;

/** Was the region (re)formatted by the last journal_open? */
export function journal_fresh(): bool { return fresh; }

@inline function halfSize(): u32 { return regionSize >> 1; }
@inline function halfBase(h: u32): u32 { return h * halfSize(); }
@inline function padded(len: i32): u32 { return (<u32>(REC_HEAD + len + 4) + ALIGN - 1) & ~(ALIGN - 1); }

export function journal_ready(): bool { return ready; }
/** qn_journal_stat selectors: stable numbers. */
export const JOURNAL_STAT_SIZE: i32 = 0; // bytes of storage the journal has (0: not open)
export const JOURNAL_STAT_TAIL: i32 = 1; // where the next record goes in the live half
export const JOURNAL_STAT_GENERATION: i32 = 2; // generation of the live half
export const JOURNAL_STAT_WRITES: i32 = 3; // records written
export const JOURNAL_STAT_COMPACTIONS: i32 = 4; // compactions done
export const JOURNAL_STAT_TORN_DROPPED: i32 = 5; // torn records dropped at recovery
export const JOURNAL_STAT_LSN: i32 = 6; // last log sequence number written

export function journal_stat(what: i32): u32 {
  if (what == JOURNAL_STAT_SIZE) return regionSize;
  if (what == JOURNAL_STAT_TAIL) return tail;
  if (what == JOURNAL_STAT_GENERATION) return generation;
  if (what == JOURNAL_STAT_WRITES) return writes;
  if (what == JOURNAL_STAT_COMPACTIONS) return compactions;
  if (what == JOURNAL_STAT_TORN_DROPPED) return tornDropped;
  if (what == JOURNAL_STAT_LSN) return lsn;
  return 0;
}

/** Write a record of `type` with `len` data bytes already at REC+12 to
 *  absolute offset `at`. */
function put(at: u32, type: u8, len: i32, time: u32): i32 {
  store<u8>(REC, MAGIC);
  store<u8>(REC + 1, type);
  store<u16>(REC + 2, <u16>len);
  store<u32>(REC + 4, ++lsn);
  store<u32>(REC + 8, time);
  store<u32>(REC + REC_HEAD + len, crc32c(REC, REC_HEAD + len));
  const n = padded(len);
  // Padding is written as 0xFF: it stays "erased" and reads as such.
  memory.fill(REC + REC_HEAD + len + 4, 0xFF, n - <u32>(REC_HEAD + len + 4));
  writes++;
  return storage_write(at, REC, n) < 0 ? Status.ERR_STORAGE : Status.OK;
}

/** Data area of the record buffer: callers fill it, then append. */
@inline export function journal_data(): usize { return REC + REC_HEAD; }

/** Room left in the live half for a record of `len` data bytes? */
export function journal_fits(len: i32): bool {
  return ready && tail + padded(len) <= halfSize();
}

/** Append a record; the caller compacts first when it does not fit. */
export function journal_append(type: u8, len: i32, time: u32): i32 {
  if (!ready) return Status.ERR_STORAGE;
  if (!journal_fits(len)) return Status.ERR_NO_SPACE;
  const st = put(halfBase(half) + tail, type, len, time);
  if (st == Status.OK) tail += padded(len);
  return st;
}

/** Start a compaction: erase the other half and write its header. The
 *  caller then re-appends its live state with journal_append and finishes
 *  with journal_compact_end. */
export function journal_compact_begin(time: u32): i32 {
  const other = half ^ 1;
  if (storage_erase(halfBase(other), halfSize()) < 0) return Status.ERR_STORAGE;
  half = other;
  tail = 0;
  generation++;
  store<u32>(REC + REC_HEAD, generation);
  const st = put(halfBase(half), R_HEADER, 4, time);
  if (st != Status.OK) return st;
  tail = padded(4);
  compactions++;
  return Status.OK;
}

/** Finish a compaction: the new half is complete, erase the old one. */
export function journal_compact_end(): i32 {
  return storage_erase(halfBase(half ^ 1), halfSize()) < 0 ? Status.ERR_STORAGE : Status.OK;
}

/** Read and check the record at `off` of half `h`: its data length, or -1
 *  when there is no valid record (erased, torn or foreign bytes). */
function read_rec(h: u32, off: u32): i32 {
  if (off + <u32>REC_HEAD + 4 > halfSize()) return -1;
  if (storage_read(halfBase(h) + off, REC, REC_HEAD) < 0) return -1;
  if (load<u8>(REC) != MAGIC) return -1;
  const len = <i32>load<u16>(REC + 2);
  if (len > MAX_FRAME + 16 || off + padded(len) > halfSize()) return -1;
  if (storage_read(halfBase(h) + off + REC_HEAD, REC + REC_HEAD, <u32>len + 4) < 0) return -1;
  if (load<u32>(REC + REC_HEAD + len) != crc32c(REC, REC_HEAD + len)) return -1;
  // Type 0 is no record (journal_next's end of log): one that says so
  // ends the log here, where the tail check sees it.
  if (load<u8>(REC + 1) == 0) return -1;
  return len;
}

/** Is half `half` erased from `off` to its end? Appends AND their bits
 *  into flash, so bytes that are not erased would corrupt them. */
function erased_from(off: u32): bool {
  const CHUNK: u32 = 256;
  for (let o = off; o < halfSize(); o += CHUNK) {
    const n = halfSize() - o < CHUNK ? halfSize() - o : CHUNK;
    if (storage_read(halfBase(half) + o, REC, n) < 0) return false;
    for (let i: u32 = 0; i < n; i += 4) if (load<u32>(REC + i) != 0xFFFFFFFF) return false;
  }
  return true;
}

/** The generation of half `h` when it is committed (its header is intact
 *  and a STATE record follows it: compaction writes STATE last, so a half
 *  without one was cut mid-compaction and holds only part of the state),
 *  else -1. */
function half_generation(h: u32): i64 {
  const len = read_rec(h, 0);
  if (len != 4 || load<u8>(REC + 1) != R_HEADER) return -1;
  const gen = <i64>load<u32>(REC + REC_HEAD);
  for (let off = padded(4); ; ) {
    const n = read_rec(h, off);
    if (n < 0) return -1;
    if (load<u8>(REC + 1) == R_STATE) return gen;
    off += padded(n);
  }
  return -1;
}

let scanHalf: u32 = 0;
let scanOff: u32 = 0;
let endChecked = false;

/** Open the journal over a region of `size` bytes (two halves). Returns
 *  OK with a scan ready (journal_next), or a status. The committed half
 *  with the higher generation is the log; a newer half that a power cut
 *  left without its STATE is ignored (the next compaction erases it). A
 *  region with no committed half (new, foreign, or cut during its very
 *  first format, before anything could be committed) is formatted. */
export function journal_open(size: u32, time: u32): i32 {
  ready = false;
  if (size < 2 * 1024 || (size & (2 * ALIGN - 1)) != 0) return Status.ERR_ARG;
  regionSize = size;
  lsn = 0;
  endChecked = false;
  const g0 = half_generation(0), g1 = half_generation(1);
  fresh = g0 < 0 && g1 < 0;
  if (fresh) {
    if (storage_erase(0, size) < 0) return Status.ERR_STORAGE;
    half = 1;
    generation = 0;
    ready = true;
    const st = journal_compact_begin(time);
    scanHalf = half;
    scanOff = tail;
    return st;
  }
  half = g1 > g0 ? 1 : 0;
  generation = <u32>(g1 > g0 ? g1 : g0);
  scanHalf = half;
  scanOff = padded(4);
  ready = true;
  return Status.OK;
}

/** Restart the recovery scan from the first record. */
export function journal_rewind(): void { scanOff = padded(4); }

/** Next record of the recovery scan: its type (record data at
 *  journal_data(), length journal_len()), or 0 at the end of the log. */
let lastLen: i32 = 0;
export function journal_next(): u8 {
  const len = read_rec(scanHalf, scanOff);
  if (len < 0) {
    tail = scanOff;
    // Anything but erased bytes from the tail on is a torn write (or bytes
    // no append may land on): checked once per open, the whole rest of the
    // half, so the recovery compacts before anything is appended.
    if (!endChecked) {
      endChecked = true;
      if (!erased_from(tail)) tornDropped++;
    }
    return 0;
  }
  const l = load<u32>(REC + 4);
  if (l > lsn) lsn = l;
  lastLen = len;
  scanOff += padded(len);
  return load<u8>(REC + 1);
}
export function journal_len(): i32 { return lastLen; }
export function journal_torn(): u32 { return tornDropped; }
