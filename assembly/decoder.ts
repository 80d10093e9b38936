// Streaming frame decoder: COBS-decodes bytes as they arrive, in any
// chunking, into one frame buffer, and validates the frame at its 0x00
// delimiter. After any error it discards up to the next delimiter, so one
// bad byte costs at most the frame it hit; garbage between frames is
// counted and dropped. No frame with a bad CRC is ever handed on.
import { MAX_FRAME } from "./config";
import { Status } from "./status";
import { frame_check } from "./frame";
import {
  count, count_n, C_BYTES_IN, C_FRAMES_IN, C_ERR_CRC, C_ERR_OVERSIZE, C_ERR_TRUNCATED,
  C_ERR_VERSION, C_ERR_COBS,
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

export function decoder_reset(): void {
  outLen = 0;
  left = 0;
  code = 0xFF;
  skipping = false;
}

@inline export function decoder_frame(): usize { return BUF; }
@inline export function decoder_frame_len(): i32 { return readyLen; }
export function decoder_last_error(): i32 { return lastError; }

function fail(st: i32): i32 {
  lastError = st;
  if (st == Status.ERR_CRC) count(C_ERR_CRC);
  else if (st == Status.ERR_OVERSIZE) count(C_ERR_OVERSIZE);
  else if (st == Status.ERR_TRUNCATED) count(C_ERR_TRUNCATED);
  else if (st == Status.ERR_VERSION) count(C_ERR_VERSION);
  else count(C_ERR_COBS);
  return st;
}

/** One byte through the COBS state machine. Returns FRAME_READY when a
 *  valid frame is in the buffer (decoder_frame / decoder_frame_len),
 *  NEED_MORE, or a negative status for a frame just rejected. */
@inline function push(b: u8): i32 {
  if (b == 0) {
    const wasSkipping = skipping;
    const n = outLen;
    const partial = left != 0;
    const started = code != 0xFF || n != 0 || partial;
    decoder_reset();
    if (wasSkipping) return NEED_MORE; // error already reported
    if (!started) return NEED_MORE; // empty frame: idle delimiter
    if (partial) return fail(Status.ERR_TRUNCATED);
    const st = frame_check(BUF, n);
    if (st != Status.OK) return fail(st);
    count(C_FRAMES_IN);
    readyLen = n; // readable until the next byte is pushed
    return FRAME_READY;
  }
  if (skipping) return NEED_MORE;
  if (left == 0) {
    // A code byte: the previous block (if any, and not a full 254-byte
    // block) ended with an implied zero.
    if (code != 0xFF) {
      if (outLen >= MAX_FRAME) { skipping = true; return fail(Status.ERR_OVERSIZE); }
      store<u8>(BUF + outLen++, 0);
    }
    code = b;
    left = <u32>b - 1;
    return NEED_MORE;
  }
  if (outLen >= MAX_FRAME) { skipping = true; return fail(Status.ERR_OVERSIZE); }
  store<u8>(BUF + outLen++, b);
  left--;
  return NEED_MORE;
}

let consumed: i32 = 0;
/** Bytes the last decoder_feed took. */
export function decoder_consumed(): i32 { return consumed; }

/** Feed up to `len` bytes at `p`, stopping right after a frame completes or
 *  is rejected. Returns what push() gives for that byte (FRAME_READY,
 *  a negative status) or NEED_MORE when all were taken; decoder_consumed()
 *  says how many. Inside a COBS block the data bytes are copied as a run
 *  (the bytes a frame is made of cost a scan and a copy, not a call each):
 *  this is the receive path's hot loop. */
export function decoder_feed(p: usize, len: i32): i32 {
  count_n(C_BYTES_IN, <u32>len);
  let i = 0;
  while (i < len) {
    if (left > 1 && !skipping) {
      // A run of data bytes: up to the end of the block (the block's last
      // byte takes the slow path), the chunk, or the frame buffer.
      let n = <i32>left - 1;
      if (n > len - i) n = len - i;
      if (n > MAX_FRAME - outLen) n = MAX_FRAME - outLen;
      let k = 0;
      while (k < n && load<u8>(p + i + k) != 0) k++;
      if (k > 0) {
        memory.copy(BUF + outLen, p + i, k);
        outLen += k;
        left -= <u32>k;
        i += k;
        continue;
      }
    }
    const r = push(load<u8>(p + i++));
    if (r != NEED_MORE) { consumed = i; return r; }
  }
  consumed = i;
  return NEED_MORE;
}
