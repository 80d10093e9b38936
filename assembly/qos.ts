// QoS 1 and 2 on top of the session: numbered messages, acknowledgements,
// retransmission, in-order delivery and duplicate suppression, with QoS 2
// state in the journal so delivery is exactly once across link loss and
// device resets.
//
// Numbering: each QoS level has its own sender sequence of consecutive
// packet ids (QoS 2's survives resets in the journal). The receiver accepts
// only the next id it expects: a lower id is a duplicate (acknowledged
// again, not delivered: counted in DUP_SUPPRESSED), a higher one a gap
// (dropped; the sender goes back and resends). So the receiver's duplicate
// state is one exact high-water mark per level, with no false positives and
// no window to fall out of (see docs/PROTOCOL.md section 7 for why this replaces a
// window + Bloom filter). Delivery is in order per level, hence per channel.
//
// QoS 2 exchange (MQTT's four steps): PUBLISH -> PUBREC -> PUBREL -> PUBCOMP.
//   sender:   journal OUT(frame) before the first send; PUBREC(n) releases
//             every id <= n (journal REL n); PUBCOMP(n) completes them
//             (journal DONE n).
//   receiver: journal IN(frame) before acknowledging; the application's
//             qn_inbox_pop journals DELIVERED n. After a reset, IN frames
//             above DELIVERED go back to the inbox: nothing lost, and
//             nothing doubled because the high-water mark is recovered too.
// Acks are cumulative: an ack for n covers every id <= n of that level.
import { Status } from "./status";
import { HEADER_SIZE, QOS_AT_LEAST_ONCE, QOS_EXACTLY_ONCE, WINDOW } from "./config";
import { H_FLAGS, H_PACKET, H_TYPE, flags_qos, frame_body_ok, SACK_BYTES, T_DATA, T_PUBACK, T_PUBREC, T_PUBCOMP } from "./frame";
import { pool_alloc, pool_free, BLK_HDR, blk_len, blk_set_len, blk_data } from "./pool";
import {
  journal_ready, journal_fits, journal_append, journal_data, journal_compact_begin,
  journal_compact_end, journal_open, journal_next, journal_len, journal_torn, journal_rewind, journal_fresh,
  journal_stat, ALIGN,
  R_OUT, R_REL, R_DONE, R_IN, R_DELIVERED, R_STATE, R_EVENT, R_IDS,
} from "./journal";
import { inbox_push, inbox_push_block, inbox_full, inbox_count, inbox_at } from "./inbox";
import { hold_reset, hold_put, hold_take, hold_bitmap, hold_count } from "./hold";
import { crc32c_update } from "./crc32c";
import { rto_reset, rto_sample, rto_progress, rto_us, rto_srtt_us, rto_rttvar_us, rto_samples } from "./rto";
import { event_make, event_restore, event_at, EVENT_SLOTS, EVENT_SIZE, EV_JOURNAL } from "./events";
import { entropy } from "./bindings/env";
import { count, C_DUP_SUPPRESSED, C_OOO_DROP, C_OOO_HELD, C_JOURNAL_FAIL } from "./counters";

const ST_FREE: u8 = 0;
const ST_SENT: u8 = 1;
const ST_RELEASED: u8 = 2;

// In-flight entry (32 bytes): +0 pid u32 +4 qos u8 +5 state u8
//                             +6 sent more than once u8 (Karn's rule: no
//                             round-trip sample from its ack)
//                             +7 waiting for room in the outbox u8 (not
//                             sent yet, or its resend did not fit)
//                             +8 block (raw frame: u32 len + bytes)
//                             +12 send order u32 (sendOrder when it last
//                             went out) +16 sentAt i64
//                             +24 held by the peer u8 (the latest ack's
//                             SACK bitmap names it: not resent) +25..31 zero
const ENTRY: i32 = 32;
const FLIGHT = memory.data(WINDOW * ENTRY, 8);
@inline function fe(i: i32): usize { return FLIGHT + <usize>i * ENTRY; }
// Counts every (re)transmission of a QoS 1/2 message: which of two frames
// of a level left later, for telling a lost frame from one still on its
// way when an ack names frames sent after it (sack()).
let sendOrder: u32 = 0;

let q1Next: u32 = 1;
let q2Next: u32 = 1;
let q1Expect: u32 = 1;
let q2Expect: u32 = 1;
let q2Delivered: u32 = 0;
let q2Rel: u32 = 0;
let q2Done: u32 = 0;
let relPending: bool = false;
let relSentAt: i64 = 0;
let delivered1: u32 = 0;
// Running CRC-32C over every QoS 2 message handed to the application:
// crc32c(previous digest LE || packet id LE || payload). Persisted with the
// delivery mark, so a peer can check exactly-once delivery end to end.
let digest: u32 = 0;
// Numbering epochs. Ours is drawn when our journal is new: a sender whose
// journal was wiped (device replaced, reflashed) restarts its ids at 1, and
// a receiver must not take those for duplicates of the old numbering. The
// peer's epoch is journalled with our state; when it changes, the
// receiver's high-water mark restarts from the peer's base.
let epoch: u32 = 0;
let peerEpoch: u32 = 0;
let epochResets: u32 = 0;
export function qos_epoch(): u32 { return epoch; }
// The id generator's lease and node (ids.ts), kept here because the journal
// is: -1 until one is written or recovered.
let idsLease: i64 = -1;
let idsNode: u32 = 0;
export function qos_ids_lease(): i64 { return idsLease; }
export function qos_ids_node(): u32 { return idsNode; }
const DIG = memory.data(8, 4);
let delivered2: u32 = 0;

export function qos_init(): void {
  memory.fill(FLIGHT, 0, WINDOW * ENTRY);
  hold_reset(QOS_AT_LEAST_ONCE);
  hold_reset(QOS_EXACTLY_ONCE);
  sendOrder = 0;
  fastResend = false;
  rto_reset();
  dupLevel = 0;
  lastFast1 = 0;
  lastFast2 = 0;
  q1Next = 1; q2Next = 1; q1Expect = 1; q2Expect = 1;
  q2Delivered = 0; q2Rel = 0; q2Done = 0; relPending = false;
  delivered1 = 0; delivered2 = 0; digest = 0;
  epoch = 0; peerEpoch = 0; epochResets = 0;
  idsLease = -1; idsNode = 0;
}

/** qn_qos_stat selectors: stable numbers. */
export const QOS_STAT_Q1_NEXT: i32 = 0; // next QoS 1 packet id to send
export const QOS_STAT_Q2_NEXT: i32 = 1; // next QoS 2 packet id to send
export const QOS_STAT_Q1_EXPECTED: i32 = 2; // next QoS 1 packet id expected from the peer
export const QOS_STAT_Q2_EXPECTED: i32 = 3; // next QoS 2 packet id expected from the peer
export const QOS_STAT_Q2_DELIVERED: i32 = 4; // highest QoS 2 packet id handed to the application
export const QOS_STAT_Q2_DONE: i32 = 5; // highest QoS 2 packet id sent and completed (PUBCOMP)
export const QOS_STAT_IN_FLIGHT: i32 = 6; // QoS 1/2 messages sent and not yet acknowledged
export const QOS_STAT_Q1_ACCEPTED: i32 = 7; // QoS 1 messages accepted from the peer
export const QOS_STAT_Q2_ACCEPTED: i32 = 8; // QoS 2 messages accepted from the peer
export const QOS_STAT_Q2_RELEASED: i32 = 9; // highest QoS 2 packet id released (PUBREC received)
export const QOS_STAT_DIGEST: i32 = 10; // running CRC-32C over every QoS 2 message delivered
export const QOS_STAT_EPOCH: i32 = 11; // our QoS 2 numbering epoch
export const QOS_STAT_PEER_EPOCH: i32 = 12; // the peer's QoS 2 numbering epoch
export const QOS_STAT_EPOCH_RESETS: i32 = 13; // changes of the peer's epoch seen
export const QOS_STAT_BAD_RECORDS: i32 = 14; // journal records outside the plausible span, dropped
export const QOS_STAT_RTO_US: i32 = 15; // retransmission timeout now, µs (assembly/rto.ts)
export const QOS_STAT_SRTT_US: i32 = 16; // smoothed round-trip time, µs (0 before the first sample)
export const QOS_STAT_RTTVAR_US: i32 = 17; // round-trip time variation, µs
export const QOS_STAT_RTT_SAMPLES: i32 = 18; // round trips measured
export const QOS_STAT_HELD: i32 = 19; // frames received past a gap and held now (each in a pool block)

export function qos_stat(what: i32): u32 {
  if (what == QOS_STAT_Q1_NEXT) return q1Next;
  if (what == QOS_STAT_Q2_NEXT) return q2Next;
  if (what == QOS_STAT_Q1_EXPECTED) return q1Expect;
  if (what == QOS_STAT_Q2_EXPECTED) return q2Expect;
  if (what == QOS_STAT_Q2_DELIVERED) return q2Delivered;
  if (what == QOS_STAT_Q2_DONE) return q2Done;
  if (what == QOS_STAT_IN_FLIGHT) return <u32>qos_in_flight();
  if (what == QOS_STAT_Q1_ACCEPTED) return delivered1;
  if (what == QOS_STAT_Q2_ACCEPTED) return delivered2;
  if (what == QOS_STAT_Q2_RELEASED) return q2Rel;
  if (what == QOS_STAT_DIGEST) return digest;
  if (what == QOS_STAT_EPOCH) return epoch;
  if (what == QOS_STAT_PEER_EPOCH) return peerEpoch;
  if (what == QOS_STAT_EPOCH_RESETS) return epochResets;
  if (what == QOS_STAT_BAD_RECORDS) return badRecords;
  if (what == QOS_STAT_RTO_US) return <u32>rto_us();
  if (what == QOS_STAT_SRTT_US) return <u32>rto_srtt_us();
  if (what == QOS_STAT_RTTVAR_US) return <u32>rto_rttvar_us();
  if (what == QOS_STAT_RTT_SAMPLES) return rto_samples();
  if (what == QOS_STAT_HELD) return hold_count();
  return 0;
}

export function qos_in_flight(): i32 {
  let n = 0;
  for (let i = 0; i < WINDOW; i++) if (load<u8>(fe(i) + 5) != ST_FREE) n++;
  return n;
}

/** Lowest id the peer has not yet acknowledged, per level: what the peer
 *  should expect. A released QoS 2 message (PUBREC'd, waiting for its
 *  PUBCOMP) is not below it: a receiver took it, and one without its
 *  journal (another gateway the device moved to, one whose journal was
 *  lost) would otherwise expect it again, answer its PUBREL with a PUBCOMP
 *  below it, and the released message would hold its window slot for ever. */
export function qos_base(qos: i32): u32 {
  let b = qos == QOS_AT_LEAST_ONCE ? q1Next : q2Next;
  for (let i = 0; i < WINDOW; i++) {
    const e = fe(i);
    if (load<u8>(e + 5) == ST_SENT && <i32>load<u8>(e + 4) == qos) {
      const pid = load<u32>(e);
      if (<i32>(pid - b) < 0) b = pid;
    }
  }
  return b;
}

/** The peer's sender base arrived in the handshake: ids below it were all
 *  completed by the peer, so expect at least that. QoS 1 expectation is
 *  not persistent and follows the peer's base on every new session. */
export function qos_peer_base(b1: u32, b2: u32, e: u32, resumed: bool, time: u32): void {
  // A new session: the peer resends everything in flight, so what was
  // held for the last one (perhaps below the new bases) is dropped.
  hold_reset(QOS_AT_LEAST_ONCE);
  hold_reset(QOS_EXACTLY_ONCE);
  if (!resumed || <i32>(b1 - q1Expect) > 0) q1Expect = b1;
  if (e == 0) return; // the peer has no journal: it sends no QoS 2
  if (peerEpoch != 0 && e != peerEpoch) {
    // A new numbering from the peer (its journal is new): its old ids
    // mean nothing any more.
    epochResets++;
    peerEpoch = e;
    q2Expect = b2;
    q2Delivered = b2 - 1; // ids below the base were completed by the peer
    if (journal_ready()) write_state_record(time);
    return;
  }
  if (peerEpoch == 0) {
    peerEpoch = e; // first time we learn it: not a restart
    if (journal_ready()) write_state_record(time);
  }
  if (<i32>(b2 - q2Expect) > 0) q2Expect = b2;
}

// ---- journal plumbing ----

const U32 = memory.data(4, 4);

/** Append a record of len bytes at src; no room check (the callers make it). */
@inline function jput(type: u8, src: usize, len: i32, time: u32): i32 {
  memory.copy(journal_data(), src, len);
  return journal_append(type, len, time);
}

/** Append a record of `len` bytes copied from `src`. Room is made first
 *  (compaction reuses the journal's record buffer, so the data must not be
 *  staged there before). */
function jwrite(type: u8, src: usize, len: i32, time: u32): i32 {
  if (!journal_ready()) return Status.ERR_NO_JOURNAL;
  if (!journal_fits(len)) {
    const st = qos_compact(time);
    if (st != Status.OK) return st;
    if (!journal_fits(len)) return Status.ERR_NO_SPACE;
  }
  const st = jput(type, src, len, time);
  if (st != Status.OK) {
    count(C_JOURNAL_FAIL);
    event_make(EV_JOURNAL, st, time); // in the ring only: the journal is failing
  }
  return st;
}

function jwrite_u32(type: u8, v: u32, time: u32): i32 {
  store<u32>(U32, v);
  return jwrite(type, U32, 4, time);
}

function jwrite_frame(type: u8, blk: usize, time: u32): i32 {
  return jwrite(type, blk_data(blk), blk_len(blk), time);
}

// Checkpoint (STATE record, 32 bytes): +0 q2 next +4 q2 expected
// +8 q2 delivered +12 released +16 done +20 delivery digest +24 our epoch
// +28 the peer's epoch.
const STATE_BUF = memory.data(32, 4);
function fill_state(): usize {
  store<u32>(STATE_BUF, q2Next);
  store<u32>(STATE_BUF, q2Expect, 4);
  store<u32>(STATE_BUF, q2Delivered, 8);
  store<u32>(STATE_BUF, q2Rel, 12);
  store<u32>(STATE_BUF, q2Done, 16);
  store<u32>(STATE_BUF, digest, 20);
  store<u32>(STATE_BUF, epoch, 24);
  store<u32>(STATE_BUF, peerEpoch, 28);
  return STATE_BUF;
}

/** The commit record of a compaction (room was made by compact_begin). */
function write_state(time: u32): i32 {
  memory.copy(journal_data(), fill_state(), 32);
  return journal_append(R_STATE, 32, time);
}

/** A checkpoint appended to the log (the peer's epoch changed). */
function write_state_record(time: u32): void {
  jwrite(R_STATE, fill_state(), 32, time);
}

/** Rewrite the live state into the other half of the journal. */
export function qos_compact(time: u32): i32 {
  let st = journal_compact_begin(time);
  if (st != Status.OK) return st;
  for (let i = 0; i < WINDOW; i++) {
    const e = fe(i);
    if (load<u8>(e + 5) == ST_SENT && load<u8>(e + 4) == 2) {
      const blk = <usize>load<u32>(e + 8);
      st = jput(R_OUT, blk_data(blk), blk_len(blk), time);
      if (st != Status.OK) return st;
    }
  }
  st = compact_inbox(time);
  if (st != Status.OK) return st;
  for (let i = 0; i < EVENT_SLOTS; i++) {
    const e = event_at(i);
    if (e == 0) break;
    st = jput(R_EVENT, e, EVENT_SIZE, time);
    if (st != Status.OK) return st;
  }
  if (idsLease >= 0) {
    st = jput(R_IDS, fill_ids(), 12, time);
    if (st != Status.OK) return st;
  }
  // The checkpoint is the commit: recovery ignores a half without one.
  st = write_state(time);
  if (st != Status.OK) return st;
  return journal_compact_end();
}

function compact_inbox(time: u32): i32 {
  const n0 = inbox_count();
  for (let i: u32 = 0; i < n0; i++) {
    const blk = inbox_at(i);
    if (flags_qos(load<u8>(blk_data(blk) + H_FLAGS)) == 2) {
      const pid = load<u32>(blk_data(blk) + H_PACKET);
      if (<i32>(pid - q2Delivered) > 0) {
        const st = jput(R_IN, blk_data(blk), blk_len(blk), time);
        if (st != Status.OK) return st;
      }
    }
  }
  return Status.OK;
}

const IDS_BUF = memory.data(12, 8);
function fill_ids(): usize {
  store<i64>(IDS_BUF, idsLease);
  store<u32>(IDS_BUF, idsNode, 8);
  return IDS_BUF;
}

/** Journal the id generator's new lease end and node. */
export function qos_ids_write(leaseEnd: i64, node: u32, time: u32): i32 {
  idsLease = leaseEnd;
  idsNode = node;
  return jwrite(R_IDS, fill_ids(), 12, time);
}

/** Record an operation event: in the ring, and in the journal when open. */
export function qos_event(type: u8, code: i32, time: u32): void {
  const rec = event_make(type, code, time);
  if (journal_ready()) jwrite(R_EVENT, rec, EVENT_SIZE, time);
}

// ---- sender ----

/** Register a QoS 1/2 message whose raw frame (header + payload, no CRC)
 *  is at `raw`, `n` bytes: assigns its packet id (written into the frame),
 *  journals QoS 2 messages, and keeps the frame for retransmission.
 *  Returns the pid (> 0) or a status. */
export function qos_publish(raw: usize, n: i32, time: u32): i64 {
  const qos = <i32>flags_qos(load<u8>(raw + H_FLAGS));
  if (qos == QOS_EXACTLY_ONCE && !journal_ready()) return Status.ERR_NO_JOURNAL;
  let slot = -1;
  for (let i = 0; i < WINDOW; i++) if (load<u8>(fe(i) + 5) == ST_FREE) { slot = i; break; }
  if (slot < 0) return Status.ERR_WINDOW;
  const blk = pool_alloc(n + BLK_HDR);
  if (blk == 0) return Status.ERR_POOL_EMPTY;
  const pid = qos == QOS_AT_LEAST_ONCE ? q1Next : q2Next;
  store<u32>(raw + H_PACKET, pid);
  blk_set_len(blk, n);
  memory.copy(blk_data(blk), raw, n);
  if (qos == QOS_EXACTLY_ONCE) {
    const st = jwrite_frame(R_OUT, blk, time);
    if (st != Status.OK) { pool_free(blk); return st; }
    q2Next++;
  } else {
    q1Next++;
  }
  const e = fe(slot);
  store<u32>(e, pid);
  store<u8>(e + 4, <u8>qos);
  store<u8>(e + 5, ST_SENT);
  store<u8>(e + 6, 0);
  store<u8>(e + 7, 1);
  store<u32>(e + 8, <u32>blk);
  store<i64>(e + 16, 0);
  store<u8>(e + 24, 0);
  return <i64>pid;
}

/** Frame of in-flight entry i (u16 len + raw), for (re)transmission. */
export function qos_entry_block(pid: u32, qos: i32): usize {
  for (let i = 0; i < WINDOW; i++) {
    const e = fe(i);
    if (load<u8>(e + 5) == ST_SENT && <i32>load<u8>(e + 4) == qos && load<u32>(e) == pid) return <usize>load<u32>(e + 8);
  }
  return 0;
}

export function qos_mark_sent(pid: u32, qos: i32, now: i64, again: bool): void {
  for (let i = 0; i < WINDOW; i++) {
    const e = fe(i);
    if (load<u8>(e + 5) != ST_FREE && <i32>load<u8>(e + 4) == qos && load<u32>(e) == pid) {
      store<i64>(e + 16, now);
      store<u32>(e + 12, ++sendOrder);
      store<u8>(e + 7, 0);
      if (again) store<u8>(e + 6, 1);
    }
  }
}

/** Is entry `e` a message of level `qos` the peer still needs: sent, not
 *  acknowledged, and not held by it? */
@inline function missing(e: usize, qos: i32): bool {
  return load<u8>(e + 5) == ST_SENT && <i32>load<u8>(e + 4) == qos && load<u8>(e + 24) == 0;
}

/** Level `qos`'s messages from `pid` on wait for room in the outbox: a
 *  resend that stopped at a full outbox goes on from there at the next
 *  tick, or the receiver, which drops everything past a gap, would find
 *  a new gap where the resend stopped. */
export function qos_set_pending(qos: i32, pid: u32): void {
  for (let i = 0; i < WINDOW; i++) {
    const e = fe(i);
    if (missing(e, qos) && <i32>(load<u32>(e) - pid) >= 0) store<u8>(e + 7, 1);
  }
}

/** The first message of level `qos` waiting for the outbox, or 0; with
 *  whether it went out before (a resend) in the sign: -pid. */
export function qos_next_pending(qos: i32): i64 {
  let best: u32 = 0;
  let found = false;
  let again = false;
  for (let i = 0; i < WINDOW; i++) {
    const e = fe(i);
    if (missing(e, qos) && load<u8>(e + 7) != 0) {
      const pid = load<u32>(e);
      if (!found || <i32>(pid - best) < 0) {
        best = pid;
        found = true;
        again = load<i64>(e + 16) > 0;
      }
    }
  }
  return !found ? 0 : again ? -<i64>best : <i64>best;
}

/** A round-trip sample from the ack of `pid` (level `qos`), if that
 *  message is in flight and was sent once (Karn's rule), and the peer did
 *  not hold it past a gap (its cumulative ack came when the gap filled,
 *  which says nothing of the line's round trip: sack() sampled it). */
function sample_rtt(qos: i32, pid: u32, now: i64): void {
  for (let i = 0; i < WINDOW; i++) {
    const e = fe(i);
    if (load<u8>(e + 5) == ST_SENT && <i32>load<u8>(e + 4) == qos && load<u32>(e) == pid) {
      if (load<u8>(e + 24) == 0) sample_entry(e, now);
      return;
    }
  }
}

@inline function sample_entry(e: usize, now: i64): void {
  const t = load<i64>(e + 16);
  if (load<u8>(e + 6) == 0 && t > 0) rto_sample(now - t);
}

// A duplicate acknowledgement: the receiver acks what it had before a gap
// (qos_classify's RX_GAP) for each frame it drops past it, so an ack that
// releases nothing while messages are out says one was lost. The sender
// goes back at once instead of waiting for the timeout, once per ack value
// (the frames already on their way past the gap ack the same value again),
// and only when the first missing message left at least half a smoothed
// round trip ago: duplicates of a window just resent are acked too, and
// are no sign of a loss.
let dupLevel: i32 = 0;
let lastFast1: u32 = 0;
let lastFast2: u32 = 0;
function dup_ack(qos: i32, n: u32, now: i64): void {
  let missing: i64 = -1;
  for (let i = 0; i < WINDOW; i++) {
    const e = fe(i);
    if (load<u8>(e + 5) == ST_SENT && <i32>load<u8>(e + 4) == qos && load<u32>(e) == n + 1) missing = load<i64>(e + 16);
  }
  if (missing <= 0 || now - missing < (rto_srtt_us() >> 1)) return;
  if (qos == QOS_AT_LEAST_ONCE) {
    if (n == lastFast1) return;
    lastFast1 = n;
  } else {
    if (n == lastFast2) return;
    lastFast2 = n;
  }
  dupLevel = qos;
}

/** The level to go back on after a duplicate ack (then cleared), or 0. */
export function qos_take_dup(): i32 {
  const l = dupLevel;
  dupLevel = 0;
  return l;
}

// Selective repeat, the sender's half (the receiver's is hold.ts). An ack
// from a receiver that holds frames past a gap carries the SACK bitmap:
// the held ids are marked and not resent, and a message that is neither
// acked nor held but went out before one that is held was lost (the line
// keeps order within a priority class), so it alone goes out again now.
// Its resend is the latest frame of the level, so the acks still on their
// way for frames sent before it do not send it a third time; if it is lost
// too, an ack naming a frame sent after it, or the timeout, resends it.
// The marks are the latest ack's word: a receiver that forgot what it held
// names it no more, and the frame is resent.
let fastResend = false;
function sack(qos: i32, n: u32, bits: u32, now: i64): bool {
  let newest: u32 = 0;
  let any = false;
  let fresh: usize = 0; // the latest sent of the frames this ack names first
  for (let i = 0; i < WINDOW; i++) {
    const e = fe(i);
    if (load<u8>(e + 5) != ST_SENT || <i32>load<u8>(e + 4) != qos) continue;
    const d = load<u32>(e) - n - 2;
    const held = d < 8 * <u32>SACK_BYTES && ((bits >> d) & 1) != 0;
    if (held && load<u8>(e + 24) == 0 && (fresh == 0 || <i32>(load<u32>(e + 12) - load<u32>(fresh + 12)) > 0)) fresh = e;
    store<u8>(e + 24, held ? 1 : 0);
    if (held && load<u8>(e + 7) == 0 && (!any || <i32>(load<u32>(e + 12) - newest) > 0)) {
      newest = load<u32>(e + 12);
      any = true;
    }
  }
  if (!any) return false;
  // The frame whose arrival most likely sent this ack: the round trip.
  if (fresh != 0) sample_entry(fresh, now);
  rto_progress(); // the peer is receiving
  for (let i = 0; i < WINDOW; i++) {
    const e = fe(i);
    if (missing(e, qos) && load<u8>(e + 7) == 0 && <i32>(load<u32>(e + 12) - newest) < 0) {
      store<u8>(e + 7, 1);
      fastResend = true;
    }
  }
  return true;
}

/** Were messages marked for a resend by a SACK (then cleared)? The caller
 *  sends them (core.ts send_pending). */
export function qos_take_fast(): bool {
  const f = fastResend;
  fastResend = false;
  return f;
}

/** A new session: the peer holds nothing, everything in flight is resent. */
export function qos_forget_sacks(): void {
  for (let i = 0; i < WINDOW; i++) store<u8>(fe(i) + 24, 0);
}

/** An acknowledgement arrived. PUBACK frees QoS 1 ids <= n; PUBREC
 *  releases QoS 2 ids <= n (their frames are dropped) and asks the caller
 *  to send PUBREL n; PUBCOMP completes released ids <= n. Returns 1 when
 *  a PUBREL must be sent, 0 otherwise, or a status. `sack` is the
 *  ack's SACK bitmap, or -1 when it has none (a peer that holds nothing
 *  past a gap: a duplicate ack then sends the sender back). */
export function qos_ack(type: u8, n: u32, sack_bits: i32, now: i64): i32 {
  const time = <u32>now; // the journal's record time
  if (type == T_PUBACK) {
    sample_rtt(QOS_AT_LEAST_ONCE, n, now);
    let freed = false;
    for (let i = 0; i < WINDOW; i++) {
      const e = fe(i);
      if (load<u8>(e + 5) == ST_SENT && load<u8>(e + 4) == 1 && <i32>(load<u32>(e) - n) <= 0) {
        free_entry(e);
        freed = true;
      }
    }
    if (freed) rto_progress();
    if (sack_bits >= 0) sack(QOS_AT_LEAST_ONCE, n, <u32>sack_bits, now);
    else if (!freed) dup_ack(QOS_AT_LEAST_ONCE, n, now);
    return 0;
  }
  if (type == T_PUBREC) {
    // Past what we sent: a confused or forged peer. Ignore it.
    if (<i32>(n - q2Next) >= 0) return 0;
    if (<i32>(n - q2Rel) <= 0) {
      if (sack_bits < 0) dup_ack(QOS_EXACTLY_ONCE, n, now);
    } else {
      sample_rtt(QOS_EXACTLY_ONCE, n, now);
      rto_progress();
      const st = jwrite_u32(R_REL, n, time);
      if (st != Status.OK) return st;
      q2Rel = n;
      for (let i = 0; i < WINDOW; i++) {
        const e = fe(i);
        if (load<u8>(e + 5) == ST_SENT && load<u8>(e + 4) == 2 && <i32>(load<u32>(e) - n) <= 0) {
          pool_free(<usize>load<u32>(e + 8));
          store<u32>(e + 8, 0);
          store<u8>(e + 5, ST_RELEASED);
        }
      }
    }
    if (sack_bits >= 0) sack(QOS_EXACTLY_ONCE, n, <u32>sack_bits, now);
    relPending = true;
    return 1;
  }
  if (type == T_PUBCOMP) {
    if (<i32>(n - q2Rel) > 0) return 0; // completing what was never released
    if (<i32>(n - q2Done) > 0) {
      const st = jwrite_u32(R_DONE, n, time);
      if (st != Status.OK) return st;
      q2Done = n;
    }
    for (let i = 0; i < WINDOW; i++) {
      const e = fe(i);
      if (load<u8>(e + 5) == ST_RELEASED && <i32>(load<u32>(e) - n) <= 0) store<u8>(e + 5, ST_FREE);
    }
    if (q2Done == q2Rel) relPending = false;
    return 0;
  }
  return Status.ERR_TYPE;
}

function free_entry(e: usize): void {
  const blk = <usize>load<u32>(e + 8);
  if (blk != 0) pool_free(blk);
  store<u32>(e + 8, 0);
  store<u8>(e + 5, ST_FREE);
}

/** Retransmission due? Returns the QoS level whose oldest message timed
 *  out (go back and resend that level's window), 3 for a PUBREL resend,
 *  or 0. */
export function qos_due(now: i64, retxUs: i64): i32 {
  for (let q = 1; q <= 2; q++) {
    let oldest: i64 = -1;
    for (let i = 0; i < WINDOW; i++) {
      const e = fe(i);
      // A message still waiting for the outbox has not left, and one the
      // peer holds has arrived: no timeout.
      if (missing(e, q) && load<u8>(e + 7) == 0) {
        const t = load<i64>(e + 16);
        if (oldest < 0 || t < oldest) oldest = t;
      }
    }
    if (oldest >= 0 && now - oldest >= retxUs) return q;
  }
  if (relPending && q2Done != q2Rel && now - relSentAt >= retxUs) return 3;
  return 0;
}

export function qos_rel_id(): u32 { return q2Rel; }
export function qos_rel_sent(now: i64): void { relSentAt = now; }

/** Ids of level `qos` still to (re)send, in order: call with prev = 0
 *  first, then with the last id returned; 0 at the end. Ids the peer
 *  holds are left out (after a new session, qos_forget_sacks: none). */
export function qos_next_unacked(qos: i32, prev: u32): u32 {
  let best: u32 = 0;
  let found = false;
  for (let i = 0; i < WINDOW; i++) {
    const e = fe(i);
    if (missing(e, qos)) {
      const pid = load<u32>(e);
      if ((prev == 0 || <i32>(pid - prev) > 0) && (!found || <i32>(pid - best) < 0)) { best = pid; found = true; }
    }
  }
  return found ? best : 0;
}

// ---- receiver ----

export const RX_DELIVER: i32 = 1; // new: put it in the inbox, then ack
export const RX_DUP: i32 = 2;     // seen: ack again, do not deliver
export const RX_GAP: i32 = 3;     // ahead of a missing id: hold it (qos_hold), then ack

/** Classify an arriving QoS 1/2 DATA frame. */
export function qos_classify(qos: i32, pid: u32): i32 {
  const expect = qos == QOS_AT_LEAST_ONCE ? q1Expect : q2Expect;
  if (pid == expect) return RX_DELIVER;
  if (<i32>(pid - expect) < 0) { count(C_DUP_SUPPRESSED); return RX_DUP; }
  return RX_GAP;
}

/** Frame `pid` (raw, n bytes) arrived past a gap: hold it until the gap
 *  fills (hold.ts) when `keep` (selective repeat is on), or drop it (also
 *  when there is no room; the sender resends it). */
export function qos_hold(qos: i32, pid: u32, raw: usize, n: i32, keep: bool): void {
  count(keep && hold_put(qos, pid, qos == QOS_AT_LEAST_ONCE ? q1Expect : q2Expect, raw, n) ? C_OOO_HELD : C_OOO_DROP);
}

/** The frame expected next arrived (a held copy of it is dropped); after
 *  it is accepted, qos_take_held moves the held frames that follow it. */
export function qos_unhold(qos: i32, pid: u32): void {
  const blk = hold_take(qos, pid);
  if (blk != 0) pool_free(blk);
}

/** Accept the held frames that now come next, in order, into the inbox
 *  (QoS 2: journalled first, as qos_accept does), while it has room. */
export function qos_take_held(qos: i32, time: u32): void {
  while (!inbox_full()) {
    const blk = hold_take(qos, qos == QOS_AT_LEAST_ONCE ? q1Expect : q2Expect);
    if (blk == 0) return;
    if (qos_accept(qos, blk_data(blk), blk_len(blk), time) != Status.OK) {
      pool_free(blk); // not accepted: the sender still has it
      return;
    }
    inbox_push_block(blk);
  }
}

/** The SACK bitmap of the ack for level `qos` (frame.ts SACK_BYTES). */
export function qos_sack(qos: i32): u32 { return hold_bitmap(qos, qos_ack_id(qos)); }

/** The frame (raw, n bytes: header + payload) is accepted: journal it
 *  (QoS 2) and advance the expectation. On failure nothing changed. */
export function qos_accept(qos: i32, raw: usize, n: i32, time: u32): i32 {
  if (qos == QOS_EXACTLY_ONCE) {
    const st = jwrite(R_IN, raw, n, time);
    if (st != Status.OK) return st;
    q2Expect++;
    delivered2++;
  } else {
    q1Expect++;
    delivered1++;
  }
  return Status.OK;
}

/** Id to acknowledge for level `qos`: the highest accepted (cumulative). */
export function qos_ack_id(qos: i32): u32 { return (qos == QOS_AT_LEAST_ONCE ? q1Expect : q2Expect) - 1; }

/** The application took the QoS 2 frame `raw` (id `pid`, payload of
 *  `len` bytes at raw+24) from the inbox. */
export function qos_delivered(pid: u32, raw: usize, len: i32, time: u32): i32 {
  if (<i32>(pid - q2Delivered) <= 0) return Status.OK;
  store<u32>(DIG, digest);
  store<u32>(DIG, pid, 4);
  const d = ~crc32c_update(crc32c_update(0xFFFFFFFF, DIG, 8), raw + HEADER_SIZE, len);
  store<u32>(DIG, pid);
  store<u32>(DIG, d, 4);
  const st = jwrite(R_DELIVERED, DIG, 8, time);
  if (st == Status.OK) { q2Delivered = pid; digest = d; }
  return st;
}

// ---- recovery ----

// Flash holds whatever passed a record's CRC: the CRC says the bytes are
// as written, not that they make sense (another firmware's bug, a part
// programmed elsewhere, an attacker with the chip). So recovery trusts a
// record only when every field fits the record (a frame's length field is
// the rest of the record, its header fields in range: frame_body_ok) and
// its ids lie near the half's checkpoint: one half holds at most one
// record per ALIGN bytes and each moves an id by a handful, so an id
// further away than that is not ours. Anything else is dropped and counted
// (QOS_STAT_BAD_RECORDS), never replayed. Within that span serial-number order is
// a total order, so replay does not depend on record order and recovery
// is idempotent (a recovered state recovers to itself after compaction).
let spanIds: u32 = 0;
let anchorSend: u32 = 1; // our QoS 2 sender ids are near this
let anchorRecv: u32 = 1; // the peer's QoS 2 ids we received are near this
let badRecords: u32 = 0;
export function qos_bad_records(): u32 { return badRecords; }

@inline function near(v: u32, anchor: u32): bool { return v - (anchor - spanIds) <= spanIds << 1; }

/** A STATE record whose ids hang together: released and done near next,
 *  delivered near expected. The anchors are not consulted. Twice the span:
 *  a compaction writes values each taken within the span of the anchor,
 *  so up to twice that apart, and its STATE must pass the next boot. */
function state_ok(d: usize, len: i32): bool {
  if (len < 20 || len > 32 || (len & 3) != 0) return false;
  const next = load<u32>(d);
  return near2(load<u32>(d, 12), next) && near2(load<u32>(d, 16), next) && near2(load<u32>(d, 8), load<u32>(d, 4));
}
@inline function near2(v: u32, a: u32): bool { return v - (a - (spanIds << 1)) <= spanIds << 2; }

/** A journalled QoS 2 DATA frame (OUT or IN record) that can be trusted. */
function frame_record_ok(d: usize, len: i32, anchor: u32): bool {
  return frame_body_ok(d, len) && load<u8>(d + H_TYPE) == T_DATA && flags_qos(load<u8>(d + H_FLAGS)) == 2 &&
    near(load<u32>(d + H_PACKET), anchor);
}

/** Is the record the scan is on one recovery may use? */
function record_ok(t: u8, d: usize, len: i32): bool {
  if (t == R_STATE) return state_ok(d, len) && near(load<u32>(d), anchorSend);
  if (t == R_OUT) return frame_record_ok(d, len, anchorSend);
  if (t == R_IN) return frame_record_ok(d, len, anchorRecv);
  if (t == R_REL || t == R_DONE) return len == 4 && near(load<u32>(d), anchorSend);
  if (t == R_DELIVERED) return len == 8 && near(load<u32>(d), anchorRecv);
  if (t == R_EVENT) return len == EVENT_SIZE;
  if (t == R_IDS) return len == 12 && load<i64>(d) >= 0 && load<i64>(d) < (<i64>1 << 42) && load<u32>(d, 8) <= 0x3FF;
  return false;
}

/** The anchors, and the counters' starting values: the first sound
 *  checkpoint of the half (a compaction writes one; a new journal starts
 *  with one), or a new journal's ids. */
function find_anchors(): void {
  spanIds = journal_stat(0) / ALIGN + 64;
  anchorSend = 1;
  anchorRecv = 1;
  let t: u8;
  while ((t = journal_next()) != 0) {
    const d = journal_data();
    if (t == R_STATE && state_ok(d, journal_len())) {
      // Pass 1 takes the max of these and every later value: start from
      // the checkpoint's, since the boot values (1, 0) may be far away.
      anchorSend = q2Next = load<u32>(d);
      anchorRecv = q2Expect = load<u32>(d, 4);
      q2Delivered = load<u32>(d, 8);
      q2Rel = load<u32>(d, 12);
      q2Done = load<u32>(d, 16);
      break;
    }
  }
  journal_rewind();
}

/** Open the journal and rebuild the QoS 2 state from it; accepted frames
 *  the application had not taken go back into the inbox. */
export function qos_recover(size: u32, time: u32): i32 {
  let st = journal_open(size, time);
  if (st != Status.OK) return st;
  const tornBefore = journal_torn();
  badRecords = 0;
  find_anchors();
  // Pass 1: the counters (the log is in order, so the last word wins; max
  // keeps a half-written compaction from moving anything backwards).
  let t: u8;
  let committed = false;
  let index = 0;
  let recvFrom = 0; // the peer's messages before this record are of an old numbering
  while ((t = journal_next()) != 0) {
    const d = journal_data();
    const len = journal_len();
    index++;
    if (!record_ok(t, d, len)) { badRecords++; continue; }
    if (t == R_STATE && len >= 32 && peerEpoch != 0 && load<u32>(d, 28) != 0 && load<u32>(d, 28) != peerEpoch) {
      // The peer's numbering restarted here: its expectation restarts too,
      // and its ids are compared near the new numbering from here on.
      recvFrom = index;
      peerEpoch = load<u32>(d, 28);
      anchorRecv = load<u32>(d, 4);
      q2Expect = anchorRecv;
      q2Delivered = load<u32>(d, 8);
    }
    if (t == R_STATE) {
      committed = true;
      if (len >= 32) {
        epoch = load<u32>(d, 24);
        if (peerEpoch == 0) peerEpoch = load<u32>(d, 28);
      }
      q2Next = max_u32(q2Next, load<u32>(d));
      q2Expect = max_u32(q2Expect, load<u32>(d, 4));
      q2Delivered = max_u32(q2Delivered, load<u32>(d, 8));
      q2Rel = max_u32(q2Rel, load<u32>(d, 12));
      q2Done = max_u32(q2Done, load<u32>(d, 16));
      if (len >= 24) digest = load<u32>(d, 20);
    } else if (t == R_OUT) q2Next = max_u32(q2Next, load<u32>(d + H_PACKET) + 1);
    else if (t == R_REL) q2Rel = max_u32(q2Rel, load<u32>(d));
    else if (t == R_DONE) q2Done = max_u32(q2Done, load<u32>(d));
    else if (t == R_IN) q2Expect = max_u32(q2Expect, load<u32>(d + H_PACKET) + 1);
    else if (t == R_EVENT) event_restore(d);
    else if (t == R_IDS) {
      if (load<i64>(d) > idsLease) idsLease = load<i64>(d);
      idsNode = load<u32>(d, 8);
    } else if (t == R_DELIVERED && <i32>(load<u32>(d) - q2Delivered) > 0) {
      q2Delivered = load<u32>(d);
      digest = load<u32>(d, 4);
    }
  }
  // Each value was taken near its anchor, so two of them may lie up to
  // twice the span apart; held to the order the live code keeps (done <=
  // released < next, delivered < expected) and to one span between them,
  // the state a compaction writes passes the next boot's checks and its
  // open records lie near that boot's anchors: recovery is idempotent.
  if (<i32>(q2Next - 1 - q2Rel) < 0) q2Rel = q2Next - 1;
  if (<i32>(q2Rel - q2Done) < 0 || q2Rel - q2Done > spanIds) q2Done = <i32>(q2Rel - q2Done) < 0 ? q2Rel : q2Rel - spanIds;
  if (<i32>(q2Expect - 1 - q2Delivered) < 0) q2Delivered = q2Expect - 1;
  else if (q2Expect - 1 - q2Delivered > spanIds) q2Delivered = q2Expect - 1 - spanIds;
  // Pass 2: what is still open. Messages we sent and the peer has not
  // completed go back in flight; messages we accepted and the application
  // never took go back to the inbox, unless they are of the peer's old
  // numbering. Pass 1 counted the bad records.
  journal_rewind();
  index = 0;
  while ((t = journal_next()) != 0) {
    const d = journal_data();
    const len = journal_len();
    if (++index < recvFrom && t == R_IN) continue;
    if ((t != R_OUT && t != R_IN) || !record_ok(t, d, len)) continue;
    const pid = load<u32>(d + H_PACKET);
    // An open OUT lies within the span below next (the next boot's anchor),
    // so the state a compaction writes recovers to itself.
    if (t == R_OUT && <i32>(pid - q2Done) > 0 && q2Next - pid <= spanIds) restore_out(d, len, pid);
    else if (t == R_IN && <i32>(pid - q2Delivered) > 0 && <i32>(q2Expect - pid) > 0) {
      const r = inbox_push(d, len);
      if (r != Status.OK) st = r;
    }
  }
  // Settle the in-flight table against REL/DONE.
  for (let i = 0; i < WINDOW; i++) {
    const e = fe(i);
    if (load<u8>(e + 5) == ST_FREE || load<u8>(e + 4) != 2) continue;
    const pid = load<u32>(e);
    if (<i32>(pid - q2Done) <= 0) free_entry(e);
    else if (<i32>(pid - q2Rel) <= 0) {
      pool_free(<usize>load<u32>(e + 8));
      store<u32>(e + 8, 0);
      store<u8>(e + 5, ST_RELEASED);
      relPending = true;
    }
  }
  // Released but not completed ids hold their window slots until PUBCOMP,
  // whether or not their OUT records survived a compaction (it keeps only
  // unreleased ones): rebuilt from REL and DONE, so every boot agrees.
  for (let pid = q2Done + 1, k = 0; <i32>(q2Rel - pid) >= 0 && k < WINDOW; pid++, k++) hold_released(pid);
  if (q2Rel != q2Done) relPending = true;
  // A fresh region only needs its first checkpoint; a torn tail, or a half
  // without its commit, is rewritten cleanly now.
  if (journal_fresh()) {
    // A new journal starts a new numbering epoch (never 0: 0 is "none").
    entropy(STATE_BUF, 4);
    epoch = load<u32>(STATE_BUF) | 1;
    return write_state(time);
  }
  if (journal_torn() != tornBefore || !committed || badRecords != 0) {
    const c = qos_compact(time);
    if (c != Status.OK) return c;
  }
  return st;
}

/** A window slot for the released id `pid` unless it has one. */
function hold_released(pid: u32): void {
  let free = -1;
  for (let i = 0; i < WINDOW; i++) {
    const e = fe(i);
    if (load<u8>(e + 5) == ST_FREE) { if (free < 0) free = i; continue; }
    if (load<u8>(e + 4) == 2 && load<u32>(e) == pid) return;
  }
  if (free < 0) return;
  const e = fe(free);
  store<u32>(e, pid);
  store<u8>(e + 4, 2);
  store<u8>(e + 5, ST_RELEASED);
  store<u32>(e + 8, 0);
  store<i64>(e + 16, 0);
}

function restore_out(d: usize, len: i32, pid: u32): void {
  for (let i = 0; i < WINDOW; i++) {
    const e = fe(i);
    if (load<u8>(e + 5) != ST_FREE && load<u8>(e + 4) == 2 && load<u32>(e) == pid) return;
  }
  for (let i = 0; i < WINDOW; i++) {
    const e = fe(i);
    if (load<u8>(e + 5) == ST_FREE) {
      const blk = pool_alloc(len + BLK_HDR);
      if (blk == 0) return;
      blk_set_len(blk, len);
      memory.copy(blk_data(blk), d, len);
      store<u32>(e, pid);
      store<u8>(e + 4, 2);
      store<u8>(e + 5, ST_SENT);
      store<u8>(e + 6, 1); // sent before the reset: its ack gives no sample
      store<u8>(e + 7, 0); // resent with the window when the session is up
      store<u32>(e + 8, <u32>blk);
      store<i64>(e + 16, 0);
      return;
    }
  }
}

@inline function max_u32(a: u32, b: u32): u32 { return <i32>(b - a) > 0 ? b : a; }
