// Single-producer / single-consumer ring of fixed-size slots (slot size 1
// makes a byte ring). Capacity is a power of two and the head/tail indices
// are free-running u32: count = head - tail is right across the 2^32 wrap,
// and full (count == capacity) is told apart from empty (count == 0) without
// sacrificing a slot. A push on a full ring is refused (ERR_RING_FULL),
// never an overwrite.
//
// Descriptor (20 bytes): +0 buf  +4 mask  +8 slotSize  +12 head  +16 tail
import { Status } from "./status";

@unmanaged export class Ring {
  buf: usize;
  mask: u32;
  slotSize: u32;
  head: u32;
  tail: u32;
}

/** Set up ring `r` over `buf` with `slots` (power of two) of `slotSize`. */
export function ring_init(r: Ring, buf: usize, slots: u32, slotSize: u32): i32 {
  if (slots == 0 || (slots & (slots - 1)) != 0) return Status.ERR_ARG;
  r.buf = buf;
  r.mask = slots - 1;
  r.slotSize = slotSize;
  r.head = 0;
  r.tail = 0;
  return Status.OK;
}

@inline export function ring_count(r: Ring): u32 { return r.head - r.tail; }
@inline export function ring_capacity(r: Ring): u32 { return r.mask + 1; }
@inline export function ring_full(r: Ring): bool { return r.head - r.tail > r.mask; }
@inline export function ring_empty(r: Ring): bool { return r.head == r.tail; }

/** Copy one slot from `src` into the ring. */
export function ring_push(r: Ring, src: usize): i32 {
  if (ring_full(r)) return Status.ERR_RING_FULL;
  memory.copy(r.buf + <usize>((r.head & r.mask) * r.slotSize), src, r.slotSize);
  r.head++;
  return Status.OK;
}

/** Copy the oldest slot to `dst` and remove it. */
export function ring_pop(r: Ring, dst: usize): i32 {
  if (ring_empty(r)) return Status.ERR_RING_EMPTY;
  memory.copy(dst, r.buf + <usize>((r.tail & r.mask) * r.slotSize), r.slotSize);
  r.tail++;
  return Status.OK;
}

/** Address of the oldest slot without removing it; 0 when empty. */
export function ring_peek(r: Ring): usize {
  if (ring_empty(r)) return 0;
  return r.buf + <usize>((r.tail & r.mask) * r.slotSize);
}

/** Word rings (slotSize 4) carry block addresses: push/pop by value. */
export function ring_push_u32(r: Ring, v: u32): i32 {
  if (ring_full(r)) return Status.ERR_RING_FULL;
  store<u32>(r.buf + <usize>((r.head & r.mask) << 2), v);
  r.head++;
  return Status.OK;
}

export function ring_pop_u32(r: Ring): u32 {
  if (ring_empty(r)) return 0;
  const v = load<u32>(r.buf + <usize>((r.tail & r.mask) << 2));
  r.tail++;
  return v;
}

/** Test hook: move both indices to `at` (ring must be empty), so wraparound
 *  of the free-running counters can be exercised without 2^32 pushes. */
export function ring_rebase(r: Ring, at: u32): i32 {
  if (!ring_empty(r)) return Status.ERR_ARG;
  r.head = at;
  r.tail = at;
  return Status.OK;
}
