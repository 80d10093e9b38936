// 64-bit Snowflake-style ids for sessions and messages:
//
//   63                     22 21        12 11         0
//   +-------------------------+------------+-----------+
//   | milliseconds (42 bits)  | node (10)  | seq (12)  |
//   +-------------------------+------------+-----------+
//
// Time is the shell's monotonic clock in ms (qn_tick) plus an offset, so the
// time part is a logical clock of the node, not wall time. The generator
// never lets it go back: if the clock steps backwards, ids go on from the
// last millisecond used (any step is absorbed, none can repeat an id), and
// when 4,096 ids have used one millisecond the logical clock borrows the
// next one instead of waiting, so the call never blocks. The price of a
// large backward step is ids whose time part runs ahead of the clock until
// the clock catches up; ordering and uniqueness are kept.
//
// Across reboots the clock starts again near 0, so ids are unique only if
// a boot starts past every id of the boots before. The journal keeps a
// lease: an upper bound on the time part of every id issued, renewed
// before the clock reaches it (idgen_lease_due). A boot with a journal
// starts its logical clock at the last lease (idgen_resume); a boot
// without one starts at a random point of 2^40 ms (35 years), so two boots
// collide only if their spans of ids overlap. The node comes from config
// key 9 (node_id) and is journalled with the lease.
//
// Generator state (40 bytes): +0 lastMs i64  +8 node u32  +12 seq u32
//   +16 backSteps u32  +20 borrowed u32  +24 offsetMs i64  +32 leaseEnd i64

@unmanaged export class IdGen {
  lastMs: i64;
  node: u32;
  seq: u32;
  backSteps: u32;
  borrowed: u32;
  offsetMs: i64;
  leaseEnd: i64;
}

/** How far ahead of the clock a lease reaches (about 17 minutes): one
 *  journal record per half of that while ids are made, and at most that
 *  much of the 42-bit time part skipped per reboot. */
export const ID_LEASE_MS: i64 = 1 << 20;

export function idgen_init(g: IdGen, node: u32, offsetMs: i64 = 0): void {
  g.lastMs = -1;
  g.node = node & 0x3FF;
  g.seq = 0;
  g.backSteps = 0;
  g.borrowed = 0;
  g.offsetMs = offsetMs;
  g.leaseEnd = 0;
}

@inline function clock_ms(g: IdGen, nowUs: i64): i64 {
  const ms = g.offsetMs + nowUs / 1000;
  return ms < 0 ? 0 : ms;
}

export function idgen_next(g: IdGen, nowUs: i64): u64 {
  let ms = clock_ms(g, nowUs);
  if (ms < g.lastMs) { g.backSteps++; ms = g.lastMs; }
  if (ms == g.lastMs) {
    g.seq = (g.seq + 1) & 0xFFF;
    if (g.seq == 0) { ms = g.lastMs + 1; g.borrowed++; }
  } else {
    g.seq = 0;
  }
  g.lastMs = ms;
  return (<u64>ms << 22) | (<u64>g.node << 12) | <u64>g.seq;
}

/** The highest time part used or about to be used. */
@inline function idgen_front(g: IdGen, nowUs: i64): i64 {
  const ms = clock_ms(g, nowUs);
  return ms > g.lastMs ? ms : g.lastMs;
}

/** Boot with a journal: the logical clock goes on from `leaseEnd`, past
 *  every id the boots before could have made. */
export function idgen_resume(g: IdGen, leaseEnd: i64, nowUs: i64): void {
  if (leaseEnd > idgen_front(g, nowUs)) g.offsetMs = leaseEnd - nowUs / 1000;
}

/** Is the clock within half a lease of the lease's end? */
export function idgen_lease_due(g: IdGen, nowUs: i64): bool {
  return idgen_front(g, nowUs) + (ID_LEASE_MS >> 1) >= g.leaseEnd;
}

/** Extend the lease from now; returns its new end, for the journal. */
export function idgen_lease_renew(g: IdGen, nowUs: i64): i64 {
  g.leaseEnd = idgen_front(g, nowUs) + ID_LEASE_MS;
  return g.leaseEnd;
}

const LIVE = memory.data(offsetof<IdGen>(), 8);
@inline export function idgen_live(): IdGen { return changetype<IdGen>(LIVE); }
