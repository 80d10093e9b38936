// Event counters of the core, one u32 each, read by the shell with
// qn_counter(id). They wrap at 2^32: readers take differences.
// Ids are stable (selftest and metrics read them by number).

export const C_BYTES_IN: i32 = 0;
export const C_FRAMES_IN: i32 = 1;
export const C_ERR_CRC: i32 = 2;
export const C_ERR_OVERSIZE: i32 = 3;
export const C_ERR_TRUNCATED: i32 = 4;
export const C_ERR_VERSION: i32 = 5;
export const C_ERR_COBS: i32 = 6;
export const C_FRAMES_OUT: i32 = 7;
export const C_BYTES_OUT: i32 = 8;
export const C_POOL_FAIL: i32 = 9;
export const C_RING_FULL: i32 = 10;
export const C_INBOX_DROP: i32 = 11;
export const C_ERR_TYPE: i32 = 12;
export const C_PREEMPT: i32 = 13;
export const C_TRAPS: i32 = 14;
export const C_AUTH_FAIL: i32 = 15;
export const C_REPLAY: i32 = 16;
export const C_SESSION_REJECT: i32 = 17;
export const C_DUP_SUPPRESSED: i32 = 18;
export const C_RETX: i32 = 19;
export const C_OOO_DROP: i32 = 20;
export const C_LINK_DOWN_REFUSED: i32 = 21;
export const C_JOURNAL_FAIL: i32 = 22;
export const C_HEARTBEATS: i32 = 23;
export const C_LINK_DOWN: i32 = 24;
export const C_ERR_HEADER: i32 = 25;
export const COUNTER_COUNT: i32 = 32;

const COUNTERS = memory.data(COUNTER_COUNT * 4, 4);

@inline export function count(id: i32): void {
  const p = COUNTERS + (<usize>id << 2);
  store<u32>(p, load<u32>(p) + 1);
}

@inline export function count_n(id: i32, n: u32): void {
  const p = COUNTERS + (<usize>id << 2);
  store<u32>(p, load<u32>(p) + n);
}

export function counter(id: i32): u32 {
  if (<u32>id >= <u32>COUNTER_COUNT) return 0;
  return load<u32>(COUNTERS + (<usize>id << 2));
}

export function counters_reset(): void {
  memory.fill(COUNTERS, 0, COUNTER_COUNT * 4);
}
