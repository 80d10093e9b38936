// Event counters of the core, one u32 each, read by the shell with
// qn_counter(id). They wrap at 2^32: readers take differences.
// Ids are stable (selftest and metrics read them by number).

export const C_BYTES_IN: i32 = 0; // bytes fed to the decoder
export const C_FRAMES_IN: i32 = 1; // valid frames received
export const C_ERR_CRC: i32 = 2; // frames rejected: CRC mismatch
export const C_ERR_OVERSIZE: i32 = 3; // frames rejected: too long
export const C_ERR_TRUNCATED: i32 = 4; // frames rejected: too short
export const C_ERR_VERSION: i32 = 5; // frames rejected: another protocol version
export const C_ERR_COBS: i32 = 6; // frames rejected: malformed COBS
export const C_FRAMES_OUT: i32 = 7; // frames sent
export const C_BYTES_OUT: i32 = 8; // bytes pulled for the wire
export const C_POOL_FAIL: i32 = 9; // block allocations refused
export const C_RING_FULL: i32 = 10; // frames refused by a full outbox
export const C_INBOX_DROP: i32 = 11; // received frames dropped: inbox full
export const C_ERR_TYPE: i32 = 12; // frames of an unknown type
export const C_PREEMPT: i32 = 13; // frames cut short by an emergency frame
export const C_TRAPS: i32 = 14; // never counted by the core: identity reports the board's traps
export const C_AUTH_FAIL: i32 = 15; // handshakes or frames failing authentication
export const C_REPLAY: i32 = 16; // frames refused as replays
export const C_SESSION_REJECT: i32 = 17; // frames refused for the session state or id
export const C_DUP_SUPPRESSED: i32 = 18; // QoS 1/2 duplicates acknowledged, not delivered
export const C_RETX: i32 = 19; // retransmissions
export const C_OOO_DROP: i32 = 20; // QoS 1/2 frames dropped past a gap
export const C_LINK_DOWN_REFUSED: i32 = 21; // sends refused while the link is down
export const C_JOURNAL_FAIL: i32 = 22; // journal writes that failed
export const C_HEARTBEATS: i32 = 23; // heartbeats sent
export const C_LINK_DOWN: i32 = 24; // sessions lost
export const C_ERR_HEADER: i32 = 25; // intact frames with a header field out of range
export const C_OOO_HELD: i32 = 26; // QoS 1/2 frames held past a gap until it filled
export const COUNTER_COUNT: i32 = 32; // counter slots (ids at or above read 0)

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

/** Frames the receiver rejected as damaged on the line: a CRC mismatch,
 *  malformed COBS, too short, too long, another protocol version (a flipped
 *  version bit; real peers of another version are rare). */
export function frames_damaged(): u32 {
  return counter(C_ERR_CRC) + counter(C_ERR_COBS) + counter(C_ERR_TRUNCATED) + counter(C_ERR_OVERSIZE) + counter(C_ERR_VERSION);
}

export function counters_reset(): void {
  memory.fill(COUNTERS, 0, COUNTER_COUNT * 4);
}
