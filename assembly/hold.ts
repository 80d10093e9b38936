// Selective repeat, the receiver's half: a QoS 1/2 frame that arrives past
// a gap (after a lost id, within the window) is held in a pool block
// instead of being dropped, and every acknowledgement names what is held
// (the SACK bitmap, frame.ts SACK_BYTES), so the sender resends the lost
// frame alone instead of its whole window. A held frame is not accepted
// yet: it goes to the inbox (at QoS 2 journalled first, as any accepted
// frame) only once every id before it has, so delivery stays in order per
// level and duplicate suppression stays one high-water mark.
//
// A SACK commits the receiver to nothing: the sender keeps every frame
// until the cumulative ack covers it and resends what the latest ack does
// not name. So a held frame may be forgotten (a power cut, a new session,
// no free pool block) at the cost of a resend, never of a message, and
// nothing about held frames is journalled.
//
// Slots: one block address per level and id modulo the window (the ids a
// receiver can hold, expected + 1 .. expected + WINDOW - 1, never share a
// slot); 0 when empty.
import { WINDOW } from "./config";
import { H_PACKET } from "./frame";
import { pool_alloc, pool_free, BLK_HDR, blk_set_len, blk_data } from "./pool";

const HOLD = memory.data(2 * WINDOW * 4, 4);
@inline function slot(qos: i32, pid: u32): usize {
  return HOLD + ((<usize>(qos - 1) * <usize>WINDOW + <usize>(pid & <u32>(WINDOW - 1))) << 2);
}
@inline function pid_of(blk: usize): u32 { return load<u32>(blk_data(blk) + H_PACKET); }

/** Forget every frame held for level `qos` (a new session: the sender
 *  resends all it has in flight). */
export function hold_reset(qos: i32): void {
  for (let i: u32 = 0; i < <u32>WINDOW; i++) {
    const s = slot(qos, i);
    const blk = <usize>load<u32>(s);
    if (blk != 0) pool_free(blk);
    store<u32>(s, 0);
  }
}

/** Hold frame `pid` (raw, n bytes: header + payload) of level `qos`, which
 *  expects `expect` next (pid is after it). False when it is out of the
 *  window or no block is free: then it is dropped, and resent later. */
export function hold_put(qos: i32, pid: u32, expect: u32, raw: usize, n: i32): bool {
  if (pid - expect >= <u32>WINDOW) return false;
  const s = slot(qos, pid);
  let blk = <usize>load<u32>(s);
  if (blk != 0) {
    if (pid_of(blk) == pid) return true; // held already: a duplicate
    pool_free(blk); // an id the level has passed
    store<u32>(s, 0);
  }
  blk = pool_alloc(n + BLK_HDR);
  if (blk == 0) return false;
  blk_set_len(blk, n);
  memory.copy(blk_data(blk), raw, n);
  store<u32>(s, <u32>blk);
  return true;
}

/** Take the held frame `pid` of level `qos` (the caller owns the block:
 *  length word + raw frame), or 0 when it is not held. */
export function hold_take(qos: i32, pid: u32): usize {
  const s = slot(qos, pid);
  const blk = <usize>load<u32>(s);
  if (blk == 0 || pid_of(blk) != pid) return 0;
  store<u32>(s, 0);
  return blk;
}

/** Frames held now, both levels: each owns one pool block. */
export function hold_count(): u32 {
  let n: u32 = 0;
  for (let i: usize = 0; i < 2 * <usize>WINDOW; i++) if (load<u32>(HOLD + (i << 2)) != 0) n++;
  return n;
}

/** The SACK bitmap for a cumulative ack of `n`: bit i set when id
 *  n + 2 + i is held. */
export function hold_bitmap(qos: i32, n: u32): u32 {
  let bits: u32 = 0;
  for (let i: u32 = 0; i + 2 <= <u32>WINDOW; i++) {
    const pid = n + 2 + i;
    const blk = <usize>load<u32>(slot(qos, pid));
    if (blk != 0 && pid_of(blk) == pid) bits |= 1 << i;
  }
  return bits;
}
