// Streaming frame decoder: COBS-decodes bytes as they arrive, in any
// chunking, into one frame buffer, and validates the frame at its 0x00
// delimiter. After any error it discards up to the next delimiter, so one
// bad byte costs at most the frame it hit; garbage between frames is
// counted and dropped. No frame with a bad CRC is ever handed on, except a
// MAC'd one whose CRC is left to the MAC check (decoder_crc_deferred).
import { MAX_FRAME } from "./config";
import { Status } from "./status";
import { frame_check, frame_crc_ok, header_flip, CRC_DEFERRED } from "./frame";
import { copy_nonzero } from "./cobs";
import {
  count, count_n, C_BYTES_IN, C_FRAMES_IN, C_ERR_CRC, C_ERR_OVERSIZE, C_ERR_TRUNCATED,
  C_ERR_VERSION, C_ERR_COBS, C_ERR_HEADER,
} from "./counters";

export const FRAME_READY: i32 = 1;
export const NEED_MORE: i32 = 0;

// Leave room for the COBS phantom zero written after the last block.
const BUF = memory.data(MAX_FRAME + 4, 4);
let outLen: i32 = 0;
let readyLen: i32 = 0; // length of the frame last reported FRAME_READY
let left: u32 = 0; // data bytes still due in the current COBS block
let code: u32 = 0xFF; // current block's code byte (0xFF: no implied zero)
let skipping: bool = false; // after an error, drop bytes until a delimiter
let lastError: i32 = 0;
let macFirst: bool = false; // frame MACs are checked: MAC'd frames skip the CRC here
let deferred: bool = false; // the ready frame's CRC was left to its MAC

export function decoder_reset(): void {
  outLen = 0;
  left = 0;
  code = 0xFF;
  skipping = false;
}

@inline export function decoder_frame(): usize { return BUF; }
@inline export function decoder_frame_len(): i32 { return readyLen; }
export function decoder_last_error(): i32 { return lastError; }
/** The receiver checks frame MACs (a session in auth mode 2): MAC'd frames
 *  come out with their CRC unchecked (frame_check's macFirst). */
export function decoder_mac_first(on: bool): void { macFirst = on; }
/** Was the ready frame's CRC left to its MAC? Then the caller owes the
 *  verdict: decoder_deferred_ok() when the MAC checked out, else
 *  decoder_deferred_crc() (the CRC after all). */
@inline export function decoder_crc_deferred(): bool { return deferred; }
export function decoder_deferred_ok(): void { deferred = false; count(C_FRAMES_IN); }
/** Check the ready frame's deferred CRC now: OK (counted in), or ERR_CRC
 *  (counted and reported as the decoder reports any CRC error). */
export function decoder_deferred_crc(): i32 {
  deferred = false;
  if (!frame_crc_ok(BUF, readyLen)) return fail(Status.ERR_CRC);
  count(C_FRAMES_IN);
  return Status.OK;
}

function fail(st: i32): i32 {
  lastError = st;
  if (st == Status.ERR_CRC) count(C_ERR_CRC);
  else if (st == Status.ERR_OVERSIZE) count(C_ERR_OVERSIZE);
  else if (st == Status.ERR_TRUNCATED) count(C_ERR_TRUNCATED);
  else if (st == Status.ERR_VERSION) count(C_ERR_VERSION);
  else if (st == Status.ERR_HEADER) count(C_ERR_HEADER);
  else count(C_ERR_COBS);
  return st;
}

let consumed: i32 = 0;
/** Bytes the last decoder_feed took. */
export function decoder_consumed(): i32 { return consumed; }

/** Feed up to `len` bytes at `p`, stopping right after a frame completes or
 *  is rejected. Returns FRAME_READY (the frame is at decoder_frame, valid
 *  until the next feed), a negative status for a frame just rejected, or
 *  NEED_MORE when all bytes were taken; decoder_consumed() says how many.
 *
 *  This is the receive path's hot loop, so the state lives in locals while
 *  it runs (Wasm globals are memory loads and stores once compiled to C)
 *  and a block's data bytes move four at a time: a word with no zero byte
 *  is copied whole, the first word holding a zero finishes byte by byte.
 *  A zero is always a delimiter: inside a block it ends a frame cut short. */
export function decoder_feed(p: usize, len: i32): i32 {
  let i = 0;
  let out = outLen;
  let due = left; // data bytes still due in the current block
  let blk = code;
  let st = NEED_MORE;
  while (i < len) {
    if (skipping) {
      while (i < len && load<u8>(p + i) != 0) i++;
      if (i == len) break;
      i++; // the delimiter ends the bad frame; the error was reported
      skipping = false;
      out = 0; due = 0; blk = 0xFF;
      continue;
    }
    if (due == 0) {
      const b = load<u8>(p + i++);
      if (b == 0) {
        if (blk == 0xFF && out == 0) continue; // idle delimiter
        const n = out;
        out = 0; blk = 0xFF;
        st = frame_done(n);
        break;
      }
      // A code byte: the previous block (unless a full 254-byte one) ended
      // with an implied zero.
      if (blk != 0xFF) {
        if (out >= MAX_FRAME) { skipping = true; st = fail(Status.ERR_OVERSIZE); break; }
        store<u8>(BUF + out++, 0);
      }
      blk = b;
      due = <u32>b - 1;
      continue;
    }
    let n = <i32>due;
    if (n > len - i) n = len - i;
    if (n > MAX_FRAME - out) n = MAX_FRAME - out;
    if (n == 0 && load<u8>(p + i) != 0) {
      // A data byte with the frame buffer full (a delimiter takes the
      // cut-short path below).
      i++;
      skipping = true;
      st = fail(Status.ERR_OVERSIZE);
      break;
    }
    const k = copy_nonzero(BUF + out, p + i, n);
    out += k;
    due -= <u32>k;
    i += k;
    if (k < n || n == 0) {
      // A delimiter inside a block: this frame was cut short.
      i++;
      out = 0; due = 0; blk = 0xFF;
      st = fail(Status.ERR_TRUNCATED);
      break;
    }
  }
  outLen = out;
  left = due;
  code = blk;
  consumed = i;
  count_n(C_BYTES_IN, <u32>i);
  return st;
}

/** A frame of `n` bytes is in BUF: check it (its CRC maybe left to its
 *  MAC) and report it ready or rejected. */
function frame_done(n: i32): i32 {
  header_flip(BUF); // it came inverted (frame_to_wire); BUF has room for a header
  const st = frame_check(BUF, n, macFirst);
  deferred = st == CRC_DEFERRED;
  if (!deferred) {
    if (st != Status.OK) return fail(st);
    count(C_FRAMES_IN);
  }
  readyLen = n;
  return FRAME_READY;
}
