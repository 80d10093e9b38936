// Selftest probes that run inside the core, on the target, numbered as the
// selftest checks (selftest/checks.ts). A T_PROBE_REQ frame carries
// {1: check number, 2: argument}; the reply carries {1: check number,
// 2: status (sint), 3..: metrics of that probe}. Probes touch only their own
// scratch state or undo what they did, so they are safe on a live link.
import { HEADER_SIZE, MAX_FRAME } from "./config";
import { Status } from "./status";
import {
  K_UINT, K_SINT, K_BYTES, K_FIXED32, msg_reset, msg_add, msg_get, msg_tag, msg_kind, msg_len, msg_value,
} from "./codec/fields";
import { codec_encode, codec_decode, codecs_built } from "./codec/registry";
import { pool_at, pool_take, pool_free, POOL_COUNT } from "./pool";
import { Ring, ring_init, ring_push, ring_pop, ring_rebase, ring_count, ring_full, ring_empty } from "./ring";
import { header_write, frame_seal, frame_check, frame_to_wire, frame_from_wire, flags_make, T_DATA } from "./frame";
import {
  sched_pending, sched_in_flight, sched_stat,
  SCHED_STAT_EMERGENCY_SENT, SCHED_STAT_EMERGENCY_MAX_AHEAD, SCHED_STAT_EMERGENCY_LAST_AHEAD, SCHED_STAT_BYTES_OUT,
} from "./sched";
import { qos_stat, QOS_STAT_Q2_EXPECTED, QOS_STAT_Q2_DELIVERED, QOS_STAT_DIGEST } from "./qos";
import { counter, frames_damaged, C_DUP_SUPPRESSED, C_REPLAY, C_RETX, C_OOO_DROP, C_AUTH_FAIL, C_PREEMPT, C_FRAMES_IN, C_BYTES_IN } from "./counters";
import { journal_stat, JOURNAL_STAT_GENERATION, JOURNAL_STAT_WRITES, JOURNAL_STAT_TORN_DROPPED } from "./journal";
import { IdGen, idgen_init, idgen_next } from "./ids";

export const P_POOLS: i32 = 3;
export const P_LEAK: i32 = 4;
export const P_RING: i32 = 6;
export const P_FRAME: i32 = 7;
export const P_CODECS: i32 = 8;
export const P_IDS: i32 = 10;
export const P_QOS: i32 = 14;
export const P_SCHED: i32 = 17;

const SCRATCH = memory.data(MAX_FRAME + 8, 4);
const WIRE = memory.data(MAX_FRAME + 8, 4);
const TAKEN = memory.data(32 * 4, 4);
const RING_DESC = memory.data(offsetof<Ring>(), 4);
const RING_MEM = memory.data(16, 4);
const SLOT = memory.data(4, 4);
const IDGEN = memory.data(offsetof<IdGen>(), 8);

/** Exhaust each pool's free blocks, check the next take fails (status, not
 *  trap), free them all and check the counts are restored; a double free
 *  must be refused. Metrics: 3 pools, 4 blocks taken, 5 refusals seen. */
function probe_pools(): i32 {
  let taken: u32 = 0, refused: u32 = 0;
  for (let i = 0; i < POOL_COUNT; i++) {
    const p = pool_at(i);
    const before = p.inUse;
    const fails = p.failures;
    let n = 0;
    while (n < 32) {
      const blk = pool_take(i);
      if (blk == 0) break;
      store<u32>(TAKEN + (<usize>n << 2), <u32>blk);
      n++;
    }
    if (p.inUse != p.count || p.failures != fails + 1) return Status.ERR_PROBE;
    refused++;
    taken += <u32>n;
    for (let k = 0; k < n; k++) {
      if (pool_free(<usize>load<u32>(TAKEN + (<usize>k << 2))) != Status.OK) return Status.ERR_PROBE;
    }
    if (n > 0 && pool_free(<usize>load<u32>(TAKEN)) != Status.ERR_DOUBLE_FREE) return Status.ERR_PROBE;
    if (p.inUse != before) return Status.ERR_PROBE;
    p.failures = fails; // the probe's own exhaustion is not a field failure
  }
  msg_add(3, K_UINT, <u64>POOL_COUNT, 0);
  msg_add(4, K_UINT, <u64>taken, 0);
  msg_add(5, K_UINT, <u64>refused, 0);
  return Status.OK;
}

/** Report every pool's use; the host compares with its baseline.
 *  Metrics: 3 in use, 4 high water, 5 free blocks, 6 queued frames,
 *  7 bytes in flight. */
function probe_leak(): i32 {
  let inUse: u64 = 0, high: u64 = 0, free: u64 = 0;
  for (let i = 0; i < POOL_COUNT; i++) {
    const p = pool_at(i);
    inUse += p.inUse;
    high += p.highWater;
    // Walk the free list: it must hold exactly count - inUse blocks.
    let f: u32 = 0;
    let blk = p.freeHead;
    while (blk != 0 && f <= p.count) { f++; blk = load<usize>(blk); }
    if (f != p.count - p.inUse) return Status.ERR_PROBE;
    free += f;
  }
  msg_add(3, K_UINT, inUse, 0);
  msg_add(4, K_UINT, high, 0);
  msg_add(5, K_UINT, free, 0);
  msg_add(6, K_UINT, <u64>(sched_pending(0) + sched_pending(1) + sched_pending(2)), 0);
  msg_add(7, K_UINT, <u64>sched_in_flight(), 0);
  return Status.OK;
}

/** A 4-slot ring rebased just below 2^32: fill, check full, drain in order,
 *  check empty, and keep going across the wrap. Metrics: 3 ops, 4 wraps. */
function probe_ring(): i32 {
  const r = changetype<Ring>(RING_DESC);
  if (ring_init(r, RING_MEM, 4, 4) != Status.OK) return Status.ERR_PROBE;
  if (ring_init(r, RING_MEM, 3, 4) != Status.ERR_ARG) return Status.ERR_PROBE;
  ring_init(r, RING_MEM, 4, 4);
  ring_rebase(r, 0xFFFFFFF9);
  let next: u32 = 0, expect: u32 = 0, ops: u32 = 0, wraps: u32 = 0;
  for (let round = 0; round < 6; round++) {
    for (let k = 0; k < 4; k++) {
      store<u32>(SLOT, next++);
      if (ring_push(r, SLOT) != Status.OK) return Status.ERR_PROBE;
      ops++;
    }
    if (!ring_full(r) || ring_count(r) != 4) return Status.ERR_PROBE;
    if (ring_push(r, SLOT) != Status.ERR_RING_FULL) return Status.ERR_PROBE;
    for (let k = 0; k < 4; k++) {
      if (ring_pop(r, SLOT) != Status.OK || load<u32>(SLOT) != expect++) return Status.ERR_PROBE;
      ops++;
    }
    if (!ring_empty(r) || ring_pop(r, SLOT) != Status.ERR_RING_EMPTY) return Status.ERR_PROBE;
    if (r.head < 4) wraps = 1;
  }
  if (wraps == 0) return Status.ERR_PROBE;
  msg_add(3, K_UINT, <u64>ops, 0);
  msg_add(4, K_UINT, <u64>wraps, 0);
  return Status.OK;
}

/** Build a frame, COBS round-trip it, then flip every bit of the raw frame
 *  in turn: frame_check must refuse each. Metrics: 3 frame bytes,
 *  4 bits flipped, 5 flips rejected. */
function probe_frame(arg: u64): i32 {
  let plen = <i32>(arg & 0xFF);
  if (plen == 0) plen = 16;
  for (let i = 0; i < plen; i++) store<u8>(SCRATCH + HEADER_SIZE + i, <u8>(i * 37 + 1));
  header_write(SCRATCH, T_DATA, flags_make(2, 0), 0, 7, plen, 0x01020304, 0x0A0B0C0D, 42, 1000);
  const n = frame_seal(SCRATCH);
  const w = frame_to_wire(SCRATCH, n, WIRE, MAX_FRAME + 8);
  if (w < 0) return Status.ERR_PROBE;
  for (let i = 0; i < w - 1; i++) if (load<u8>(WIRE + i) == 0) return Status.ERR_PROBE;
  // Decoding in place is safe: COBS output never overtakes its input.
  if (frame_from_wire(WIRE, w - 1, WIRE, MAX_FRAME + 8) != n) return Status.ERR_PROBE;
  if (memory.compare(WIRE, SCRATCH, n) != 0) return Status.ERR_PROBE;
  if (frame_check(SCRATCH, n) != Status.OK) return Status.ERR_PROBE;
  let rejected: u32 = 0;
  const bits = n * 8;
  for (let b = 0; b < bits; b++) {
    const p = SCRATCH + <usize>(b >> 3);
    const m = <u8>(<i32>1 << (b & 7));
    store<u8>(p, load<u8>(p) ^ m);
    if (frame_check(SCRATCH, n) != Status.OK) rejected++;
    store<u8>(p, load<u8>(p) ^ m);
  }
  if (rejected != <u32>bits) return Status.ERR_PROBE;
  msg_add(3, K_UINT, <u64>n, 0);
  msg_add(4, K_UINT, <u64>bits, 0);
  msg_add(5, K_UINT, <u64>rejected, 0);
  return Status.OK;
}

// Codec vector: {1: uint 150, 2: sint -3, 3: bytes "qn", 4: fixed32 0xDEADBEEF}
const PB_VECTOR = memory.data<u8>([0x08, 0x96, 0x01, 0x10, 0x05, 0x1A, 0x02, 0x71, 0x6E, 0x25, 0xEF, 0xBE, 0xAD, 0xDE]);
const QN_TEXT = memory.data<u8>([0x71, 0x6E]);

function fill_vector(): void {
  msg_reset();
  msg_add(1, K_UINT, 150, 0);
  msg_add(2, K_SINT, <u64>-3, 0);
  msg_add(3, K_BYTES, <u64>QN_TEXT, 2);
  msg_add(4, K_FIXED32, 0xDEADBEEF, 0);
}

/** Each built codec encodes the vector fields and decodes them back to the
 *  same values; PB must also match its byte vector exactly.
 *  Metrics: 3 codecs tested, 4 fields compared. */
function probe_codecs(): i32 {
  const built = codecs_built();
  let tested: u32 = 0, compared: u32 = 0;
  for (let c: u8 = 1; c < 32; c++) {
    if ((built & (1 << c)) == 0) continue;
    fill_vector();
    const n = codec_encode(c, WIRE, MAX_FRAME);
    if (n < 0) return Status.ERR_PROBE;
    if (c == 1) {
      if (n != 14 || memory.compare(WIRE, PB_VECTOR, 14) != 0) return Status.ERR_PROBE;
    }
    if (codec_decode(c, WIRE, n) != 4) return Status.ERR_PROBE;
    for (let i = 0; i < 4; i++) {
      if (msg_tag(i) != i + 1) return Status.ERR_PROBE;
      let v = msg_value(i);
      // PB decode returns raw varints: undo the zig-zag of field 2.
      if (c == 1 && i == 1) v = (v >> 1) ^ (0 - (v & 1));
      if (i == 0 && v != 150) return Status.ERR_PROBE;
      if (i == 1 && <i64>v != -3) return Status.ERR_PROBE;
      if (i == 2 && (msg_kind(i) != K_BYTES || msg_len(i) != 2 || memory.compare(<usize>v, QN_TEXT, 2) != 0)) return Status.ERR_PROBE;
      if (i == 3 && v != 0xDEADBEEF) return Status.ERR_PROBE;
      compared++;
    }
    tested++;
  }
  msg_reset();
  msg_add(3, K_UINT, <u64>tested, 0);
  msg_add(4, K_UINT, <u64>compared, 0);
  return Status.OK;
}

/** A scratch generator driven by a simulated clock that runs forward,
 *  steps back 5 ms now and then, steps back an hour once, jumps forward,
 *  then stalls for 4,097 ids in one millisecond (the sequence overflows and
 *  must borrow the next ms): every id must be strictly greater than the one
 *  before and carry its node bits. `arg` ids before the stall (default
 *  20,000). Metrics: 3 ids, 4 back steps seen, 5 ms borrowed. */
function probe_ids(arg: u64): i32 {
  const g = changetype<IdGen>(IDGEN);
  idgen_init(g, 0x2A5);
  let n = <i32>arg;
  if (n <= 0 || n > 1000000) n = 20000;
  let t: i64 = 3600_000_000; // one hour after boot, in µs
  let prev: u64 = 0;
  const total = n + 4097;
  for (let i = 0; i < total; i++) {
    if (i < n) {
      const phase = i * 4 / n;
      if (phase == 0) t += 250;                                      // forward
      else if (phase == 1) t = (i % 64 == 0) ? t - 5000 : t + 100;   // small steps back
      else if (phase == 2) t = (i == n / 2) ? t - 3600_000_000 : t + 10; // one huge step back
      else t += 1000_000;                                            // big jumps forward
    }                                                                // then the clock stalls
    const id = idgen_next(g, t);
    if (id <= prev || ((id >> 12) & 0x3FF) != 0x2A5) return Status.ERR_PROBE;
    prev = id;
  }
  if (g.backSteps == 0 || g.borrowed == 0) return Status.ERR_PROBE;
  msg_add(3, K_UINT, <u64>total, 0);
  msg_add(4, K_UINT, <u64>g.backSteps, 0);
  msg_add(5, K_UINT, <u64>g.borrowed, 0);
  return Status.OK;
}

/** QoS and journal state of the target, for the host's exactly-once and
 *  power-cut checks. Metrics: 3 q2 expected, 4 q2 delivered, 5 delivery
 *  digest, 6 duplicates suppressed, 7 replays refused, 8 retransmissions,
 *  9 gaps dropped, 10 journal generation, 11 journal writes, 12 torn
 *  records dropped, 13 auth failures; the receive side's line figures,
 *  which let the host tell a noisy line from a faulty core: 14 frames
 *  rejected as damaged (CRC, COBS, too short, too long, wrong version),
 *  15 valid frames received, 16 bytes received. */
function probe_qos(): i32 {
  msg_add(3, K_UINT, <u64>qos_stat(QOS_STAT_Q2_EXPECTED), 0);
  msg_add(4, K_UINT, <u64>qos_stat(QOS_STAT_Q2_DELIVERED), 0);
  msg_add(5, K_UINT, <u64>qos_stat(QOS_STAT_DIGEST), 0);
  msg_add(6, K_UINT, <u64>counter(C_DUP_SUPPRESSED), 0);
  msg_add(7, K_UINT, <u64>counter(C_REPLAY), 0);
  msg_add(8, K_UINT, <u64>counter(C_RETX), 0);
  msg_add(9, K_UINT, <u64>counter(C_OOO_DROP), 0);
  msg_add(10, K_UINT, <u64>journal_stat(JOURNAL_STAT_GENERATION), 0);
  msg_add(11, K_UINT, <u64>journal_stat(JOURNAL_STAT_WRITES), 0);
  msg_add(12, K_UINT, <u64>journal_stat(JOURNAL_STAT_TORN_DROPPED), 0);
  msg_add(13, K_UINT, <u64>counter(C_AUTH_FAIL), 0);
  msg_add(14, K_UINT, <u64>frames_damaged(), 0);
  msg_add(15, K_UINT, <u64>counter(C_FRAMES_IN), 0);
  msg_add(16, K_UINT, <u64>counter(C_BYTES_IN), 0);
  return Status.OK;
}

/** The scheduler's emergency figures. Metrics: 3 emergency frames
 *  started, 4 worst bytes sent ahead of one after it was queued, 5 the last
 *  such figure, 6 bulk frames cut for one, 7 bytes sent in all. */
function probe_sched(): i32 {
  msg_add(3, K_UINT, <u64>sched_stat(SCHED_STAT_EMERGENCY_SENT), 0);
  msg_add(4, K_UINT, <u64>sched_stat(SCHED_STAT_EMERGENCY_MAX_AHEAD), 0);
  msg_add(5, K_UINT, <u64>sched_stat(SCHED_STAT_EMERGENCY_LAST_AHEAD), 0);
  msg_add(6, K_UINT, <u64>counter(C_PREEMPT), 0);
  msg_add(7, K_UINT, <u64>sched_stat(SCHED_STAT_BYTES_OUT), 0);
  return Status.OK;
}

/** Run the probe named by the decoded request fields; leave the reply
 *  fields {1: id, 2: status, metrics...} in the field table. */
export function probe_run(): void {
  const id = <i32>msg_get(1, 0);
  const arg = msg_get(2, 0);
  msg_reset();
  msg_add(1, K_UINT, <u64>id, 0);
  msg_add(2, K_SINT, 0, 0); // status, patched below
  let st: i32 = Status.ERR_NOT_BUILT;
  if (QN_FEAT_PROBES) {
    if (id == P_POOLS) st = probe_pools();
    else if (id == P_LEAK) st = probe_leak();
    else if (id == P_RING) st = probe_ring();
    else if (id == P_FRAME) st = probe_frame(arg);
    else if (id == P_IDS) st = probe_ids(arg);
    else if (id == P_QOS) st = probe_qos();
    else if (id == P_SCHED) st = probe_sched();
    else if (id == P_CODECS) {
      st = probe_codecs();
      // probe_codecs reuses the table: put id and status back in front.
      if (st == Status.OK) {
        const tested = msg_value(0), compared = msg_value(1);
        msg_reset();
        msg_add(1, K_UINT, <u64>id, 0);
        msg_add(2, K_SINT, 0, 0);
        msg_add(3, K_UINT, tested, 0);
        msg_add(4, K_UINT, compared, 0);
      }
    } else st = Status.ERR_ARG;
  }
  if (st != Status.OK) {
    msg_reset();
    msg_add(1, K_UINT, <u64>id, 0);
    msg_add(2, K_SINT, <u64>st, 0);
  }
}
