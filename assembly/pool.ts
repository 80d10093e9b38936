// Fixed-size block pools carved from static memory at init. Allocation and
// free are O(1): free blocks form a singly linked list threaded through their
// first word. A u32 bitmap per pool marks blocks in use, so a double free or
// a foreign pointer is a status (ERR_DOUBLE_FREE), never a corrupted list.
// Exhaustion returns 0 and is counted; in-use and high-water counts feed the
// selftest's leak scan.
//
// Pool descriptor (28 bytes, one per pool):
//   +0 base  +4 blockSize  +8 count  +12 freeHead  +16 inUse  +20 highWater
//   +24 failures  +28 usedMap
import { POOL_SMALL_SIZE, POOL_SMALL_COUNT, POOL_LARGE_SIZE, POOL_LARGE_COUNT } from "./config";
import { Status } from "./status";
import { count, C_POOL_FAIL } from "./counters";

@unmanaged export class Pool {
  base: usize;
  blockSize: u32;
  count: u32;
  freeHead: usize;
  inUse: u32;
  highWater: u32;
  failures: u32;
  usedMap: u32;
}

export const POOL_COUNT: i32 = 2;

/** qn_pool_stat selectors: stable numbers. */
export const POOL_STAT_BLOCK_SIZE: i32 = 0; // bytes per block
export const POOL_STAT_COUNT: i32 = 1; // blocks in the pool
export const POOL_STAT_IN_USE: i32 = 2; // blocks allocated now
export const POOL_STAT_HIGH_WATER: i32 = 3; // most blocks ever allocated at once
export const POOL_STAT_FAILURES: i32 = 4; // allocations refused (pool empty)

// A block that carries bytes (frames queued, inbox entries, in-flight
// messages) starts with their length as a u32: a 4-byte prefix keeps the
// bytes word-aligned, so every copy in and out of a block runs a word at a
// time (behind a 2-byte prefix they would be byte copies on the Cortex-M7).
export const BLK_HDR: i32 = 4;
@inline export function blk_len(blk: usize): i32 { return <i32>load<u32>(blk); }
@inline export function blk_set_len(blk: usize, n: i32): void { store<u32>(blk, <u32>n); }
@inline export function blk_data(blk: usize): usize { return blk + BLK_HDR; }
const SMALL_MEM = memory.data(POOL_SMALL_SIZE * POOL_SMALL_COUNT, 8);
const LARGE_MEM = memory.data(POOL_LARGE_SIZE * POOL_LARGE_COUNT, 8);
const POOLS = memory.data(offsetof<Pool>() * POOL_COUNT, 4);

@inline export function pool_at(i: i32): Pool {
  return changetype<Pool>(POOLS + <usize>i * offsetof<Pool>());
}

function pool_setup(p: Pool, base: usize, size: u32, n: u32): void {
  p.base = base;
  p.blockSize = size;
  p.count = n;
  p.inUse = 0;
  p.highWater = 0;
  p.failures = 0;
  p.usedMap = 0;
  // Thread the free list from the first block to the last.
  for (let i: u32 = 0; i < n; i++) {
    const blk = base + <usize>(i * size);
    store<usize>(blk, i + 1 < n ? blk + size : 0);
  }
  p.freeHead = base;
}

export function pools_init(): void {
  pool_setup(pool_at(0), SMALL_MEM, POOL_SMALL_SIZE, POOL_SMALL_COUNT);
  pool_setup(pool_at(1), LARGE_MEM, POOL_LARGE_SIZE, POOL_LARGE_COUNT);
}

/** Take a block from pool `i`; 0 when exhausted (counted). */
export function pool_take(i: i32): usize {
  const p = pool_at(i);
  const blk = p.freeHead;
  if (blk == 0) {
    p.failures++;
    count(C_POOL_FAIL);
    return 0;
  }
  p.freeHead = load<usize>(blk);
  const idx = <u32>((blk - p.base) / p.blockSize);
  p.usedMap |= 1 << idx;
  p.inUse++;
  if (p.inUse > p.highWater) p.highWater = p.inUse;
  return blk;
}

/** Smallest pool whose blocks hold `size` bytes, falling back to a larger
 *  pool when the best fit is exhausted (the miss is still counted on the
 *  smaller pool). 0 when nothing fits or every fitting pool is empty. */
export function pool_alloc(size: i32): usize {
  for (let i = 0; i < POOL_COUNT; i++) {
    if (<u32>size <= pool_at(i).blockSize) {
      const blk = pool_take(i);
      if (blk != 0) return blk;
    }
  }
  return 0;
}

/** Return a block to its pool. */
export function pool_free(blk: usize): i32 {
  for (let i = 0; i < POOL_COUNT; i++) {
    const p = pool_at(i);
    if (blk >= p.base && blk < p.base + <usize>(p.blockSize * p.count)) {
      const off = blk - p.base;
      if (off % p.blockSize != 0) return Status.ERR_DOUBLE_FREE;
      const bit: u32 = 1 << <u32>(off / p.blockSize);
      if ((p.usedMap & bit) == 0) return Status.ERR_DOUBLE_FREE;
      p.usedMap &= ~bit;
      store<usize>(blk, p.freeHead);
      p.freeHead = blk;
      p.inUse--;
      return Status.OK;
    }
  }
  return Status.ERR_DOUBLE_FREE;
}

export function pools_in_use(): u32 {
  let n: u32 = 0;
  for (let i = 0; i < POOL_COUNT; i++) n += pool_at(i).inUse;
  return n;
}
