// The device's event log: the last EVENT_SLOTS operation records (link
// up/down, authentication failure, trap, boot, config applied, journal
// error), each with a sequence number and the device clock, kept in a ring
// and journalled so a post-mortem after a reset still has them. The host
// fetches them with T_LOG_REQ (gateway: `qnctl log <device>`).
//
// Record (16 bytes): +0 u32 seq  +4 u32 time (µs, low 32 bits)  +8 u8 type
//                    +9 3 pad  +12 i32 code
export const EVENT_SLOTS: i32 = 12;
// Event types: stable numbers. The trailing comment is the event's name
// in the gateway's log and metrics (generated into build/qn_abi.ts).
export const EV_LINK_UP: u8 = 1; // link up
export const EV_LINK_DOWN: u8 = 2; // link down
export const EV_AUTH_FAIL: u8 = 3; // auth failure
export const EV_TRAP: u8 = 4; // trap
export const EV_BOOT: u8 = 5; // boot
export const EV_CONFIG: u8 = 6; // config applied
export const EV_JOURNAL: u8 = 7; // journal error
export const EVENT_SIZE: i32 = 16;

const RING = memory.data(EVENT_SLOTS * EVENT_SIZE, 4);
const REC = memory.data(EVENT_SIZE, 4);
let nextSeq: u32 = 1;

export function events_init(): void {
  memory.fill(RING, 0, EVENT_SLOTS * EVENT_SIZE);
  nextSeq = 1;
}

@inline function slot(seq: u32): usize { return RING + <usize>((seq % <u32>EVENT_SLOTS) * <u32>EVENT_SIZE); }

/** Build the record for a new event in REC (the caller journals it) and
 *  put it in the ring; returns REC. */
export function event_make(type: u8, code: i32, time: u32): usize {
  memory.fill(REC, 0, EVENT_SIZE);
  store<u32>(REC, nextSeq);
  store<u32>(REC, time, 4);
  store<u8>(REC, type, 8);
  store<i32>(REC, code, 12);
  event_restore(REC);
  return REC;
}

/** Put a record (from the journal, or just made) into the ring. */
export function event_restore(rec: usize): void {
  const seq = load<u32>(rec);
  if (seq == 0) return;
  memory.copy(slot(seq), rec, EVENT_SIZE);
  if (<i32>(seq + 1 - nextSeq) > 0) nextSeq = seq + 1;
}

/** Events in the ring, oldest first: the i-th record's address or 0. */
export function event_at(i: i32): usize {
  const have = nextSeq - 1 < <u32>EVENT_SLOTS ? <i32>(nextSeq - 1) : EVENT_SLOTS;
  if (i < 0 || i >= have) return 0;
  return slot(nextSeq - <u32>have + <u32>i);
}
