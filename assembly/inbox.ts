// The application inbox: frames the core hands to its shell's application,
// each a pool block (length word + raw frame without CRC), in a ring of
// block addresses. Shared by the dispatcher (new frames), the QoS layer
// (journal recovery re-delivers into it, compaction walks it) and the ABI
// (qn_inbox_pop).
import { INBOX_SLOTS } from "./config";
import { Status } from "./status";
import { Ring, ring_init, ring_push_u32, ring_pop_u32, ring_count, ring_full } from "./ring";
import { pool_alloc, pool_free, BLK_HDR, blk_set_len, blk_data } from "./pool";
import { count, C_INBOX_DROP } from "./counters";

const INBOX_MEM = memory.data(<i32>INBOX_SLOTS * 4, 4);
const INBOX = memory.data(offsetof<Ring>(), 4);
@inline function ring(): Ring { return changetype<Ring>(INBOX); }

export function inbox_init(): void {
  ring_init(ring(), INBOX_MEM, INBOX_SLOTS, 4);
}

export function inbox_full(): bool { return ring_full(ring()); }
export function inbox_count(): u32 { return ring_count(ring()); }

/** Copy a raw frame (n bytes) into a new inbox entry. Counted on failure. */
export function inbox_push(raw: usize, n: i32): i32 {
  if (ring_full(ring())) { count(C_INBOX_DROP); return Status.ERR_RING_FULL; }
  const blk = pool_alloc(n + BLK_HDR);
  if (blk == 0) { count(C_INBOX_DROP); return Status.ERR_POOL_EMPTY; }
  blk_set_len(blk, n);
  memory.copy(blk_data(blk), raw, n);
  ring_push_u32(ring(), <u32>blk);
  return Status.OK;
}

/** Remove the oldest entry; returns its block (caller frees) or 0. */
export function inbox_take(): usize { return <usize>ring_pop_u32(ring()); }

/** The i-th oldest entry's block (0 <= i < inbox_count()). */
export function inbox_at(i: u32): usize {
  const r = ring();
  return <usize>load<u32>(r.buf + (<usize>((r.tail + i) & r.mask) << 2));
}

export function inbox_free(blk: usize): void { pool_free(blk); }

/** Append an entry whose block the caller already filled (a held frame
 *  whose turn came); the inbox owns it from here. */
export function inbox_push_block(blk: usize): i32 {
  if (ring_full(ring())) return Status.ERR_RING_FULL;
  ring_push_u32(ring(), <u32>blk);
  return Status.OK;
}
