// Transmit scheduler: one outbox ring per priority class, drained by the
// shell pulling bytes (qn_tx_pull) whenever its UART or socket can take them.
// Because the core hands out bytes one pull at a time, it can change its
// mind between any two bytes: when a more urgent frame is queued while a
// less urgent one is part-way out, it ends the partial frame with a 0x00
// delimiter (the receiver drops it as ERR_TRUNCATED or ERR_CRC), sends the
// urgent frame, and resends the cut frame whole afterwards. So an emergency
// frame waits for at most one pull's worth of bytes, never a whole bulk frame.
//
// Queued frame block: +0 u32 length of what follows, +4 a 0x00 (sent only
// after an idle line), then the COBS bytes incl. delimiter.
import { OUTBOX_SLOTS, PRIO_CLASSES, TX_STAGE } from "./config";
import { Status } from "./status";
import { Ring, ring_init, ring_push_u32, ring_pop_u32, ring_empty, ring_count } from "./ring";
import { pool_free, blk_len, blk_data } from "./pool";
import { count, count_n, C_FRAMES_OUT, C_BYTES_OUT, C_PREEMPT, C_RING_FULL } from "./counters";

const OUTBOX_MEM = memory.data(<i32>OUTBOX_SLOTS * 4 * PRIO_CLASSES, 4);
const OUTBOX = memory.data(offsetof<Ring>() * PRIO_CLASSES, 4);
/** A frame cut by preemption, per class, resent before that class's ring. */
const RESUME = memory.data(4 * PRIO_CLASSES, 4);
export const TX_BUF = memory.data(TX_STAGE, 4);

// Queue-time stamps (bytes pulled so far) per outbox slot, so the bytes
// that went out ahead of each frame can be measured when it starts.
const STAMPS = memory.data(<i32>OUTBOX_SLOTS * 4 * PRIO_CLASSES, 4);
let bytesOut: u32 = 0;
let emergencySent: u32 = 0;
let emergencyMaxAhead: u32 = 0;
let emergencyLastAhead: u32 = 0;

/** The outbox ran dry after the last frame: the line may have been quiet
 *  for any time, and noise on a quiet serial line becomes the start of
 *  whatever the receiver decodes next. So the first frame after it goes
 *  out behind a 0x00 of its own: the receiver ends the noise there (one
 *  garbage frame, counted) and takes the frame whole, where it would have
 *  lost it joined to the noise. A receiver at a frame boundary skips the
 *  extra 0x00 as an idle delimiter. Frames back to back get none. */
let lineIdle = true;
let cur: usize = 0; // block being sent
let curOff: i32 = 0; // bytes of it already handed out
let curPrio: i32 = 0;

@inline function outbox(p: i32): Ring {
  return changetype<Ring>(OUTBOX + <usize>p * offsetof<Ring>());
}

export function sched_init(): void {
  for (let p = 0; p < PRIO_CLASSES; p++) {
    ring_init(outbox(p), OUTBOX_MEM + <usize>(p * <i32>OUTBOX_SLOTS * 4), OUTBOX_SLOTS, 4);
    store<u32>(RESUME + (<usize>p << 2), 0);
  }
  cur = 0;
  curOff = 0;
  lineIdle = true;
  bytesOut = 0;
  emergencySent = 0;
  emergencyMaxAhead = 0;
  emergencyLastAhead = 0;
}

/** qn_sched_stat selectors: stable numbers. */
export const SCHED_STAT_EMERGENCY_SENT: i32 = 0; // emergency frames started
export const SCHED_STAT_EMERGENCY_MAX_AHEAD: i32 = 1; // worst bytes sent ahead of an emergency frame after it was queued
export const SCHED_STAT_EMERGENCY_LAST_AHEAD: i32 = 2; // the last such figure
export const SCHED_STAT_BYTES_OUT: i32 = 3; // bytes pulled in all

export function sched_stat(what: i32): u32 {
  if (what == SCHED_STAT_EMERGENCY_SENT) return emergencySent;
  if (what == SCHED_STAT_EMERGENCY_MAX_AHEAD) return emergencyMaxAhead;
  if (what == SCHED_STAT_EMERGENCY_LAST_AHEAD) return emergencyLastAhead;
  if (what == SCHED_STAT_BYTES_OUT) return bytesOut;
  return 0;
}

/** Queue a block holding a wire frame on class `prio`. */
export function sched_queue(prio: i32, blk: usize): i32 {
  // Callers pass checked classes (frame_check, core_send); a class past the
  // last would index memory that is not an outbox.
  if (<u32>prio >= <u32>PRIO_CLASSES) return Status.ERR_ARG;
  const r = outbox(prio);
  const slot = r.head & r.mask;
  if (ring_push_u32(r, <u32>blk) != Status.OK) {
    count(C_RING_FULL);
    return Status.ERR_RING_FULL;
  }
  store<u32>(STAMPS + (<usize>(prio * <i32>OUTBOX_SLOTS + <i32>slot) << 2), bytesOut);
  return Status.OK;
}

/** Frames waiting in class `prio` (not counting the one being sent). */
export function sched_pending(prio: i32): u32 {
  return ring_count(outbox(prio)) + (load<u32>(RESUME + (<usize>prio << 2)) != 0 ? 1 : 0);
}

function has_work(p: i32): bool {
  return load<u32>(RESUME + (<usize>p << 2)) != 0 || !ring_empty(outbox(p));
}

function take(p: i32, pulled: i32): usize {
  const r = RESUME + (<usize>p << 2);
  const blk = <usize>load<u32>(r);
  if (blk != 0) { store<u32>(r, 0); return blk; }
  const ring = outbox(p);
  const stamp = load<u32>(STAMPS + (<usize>(p * <i32>OUTBOX_SLOTS + <i32>(ring.tail & ring.mask)) << 2));
  if (p == 0) {
    const ahead = bytesOut + <u32>pulled - stamp;
    emergencySent++;
    emergencyLastAhead = ahead;
    if (ahead > emergencyMaxAhead) emergencyMaxAhead = ahead;
  }
  return <usize>ring_pop_u32(ring);
}

/** Fill up to `max` bytes of TX_BUF; returns how many. */
export function sched_pull(max: i32): i32 {
  if (max > TX_STAGE) max = TX_STAGE;
  let n: i32 = 0;
  while (n < max) {
    if (cur != 0) {
      // Preempt a part-sent frame for any more urgent one.
      if (curOff > 0) {
        for (let p = 0; p < curPrio; p++) {
          if (has_work(p)) {
            store<u8>(TX_BUF + n++, 0);
            store<u32>(RESUME + (<usize>curPrio << 2), <u32>cur);
            cur = 0;
            count(C_PREEMPT);
            break;
          }
        }
        if (cur == 0) continue;
      }
      const len = blk_len(cur);
      let k = len - curOff;
      if (k > max - n) k = max - n;
      memory.copy(TX_BUF + n, blk_data(cur) + curOff, k);
      n += k;
      curOff += k;
      if (curOff == len) {
        pool_free(cur);
        cur = 0;
        count(C_FRAMES_OUT);
      }
      continue;
    }
    let found = false;
    for (let p = 0; p < PRIO_CLASSES; p++) {
      if (has_work(p)) {
        cur = take(p, n);
        // Every block starts with that 0x00 (core_queue_raw); it is sent
        // only after an idle line. Kept in the block rather than written
        // here, the common copy (one frame after a quiet spell) stays
        // word-aligned: written here it shifted the frame by a byte and
        // newlib's memcpy went byte by byte (+320 instructions per 32-byte
        // QoS 0 encode on the M7).
        curOff = lineIdle ? 0 : 1;
        lineIdle = false;
        curPrio = p;
        found = true;
        break;
      }
    }
    if (!found) {
      lineIdle = true;
      break;
    }
  }
  count_n(C_BYTES_OUT, <u32>n);
  bytesOut += <u32>n;
  return n;
}

/** Bytes still to send in the frame being transmitted (0 when idle). */
export function sched_in_flight(): i32 {
  return cur == 0 ? 0 : blk_len(cur) - curOff;
}
