// 64-bit Snowflake-style ids for sessions and messages:
//
//   63                     22 21        12 11         0
//   +-------------------------+------------+-----------+
//   | milliseconds (42 bits)  | node (10)  | seq (12)  |
//   +-------------------------+------------+-----------+
//
// Time is the shell's monotonic clock in ms (qn_tick). The generator keeps a
// logical clock that never goes back: if the clock steps backwards, ids go
// on from the last millisecond used (any step is absorbed, none can repeat
// an id), and when 4,096 ids have used one millisecond the logical clock
// borrows the next one instead of waiting, so the call never blocks. The
// price of a large backward step is ids whose time part runs ahead of the
// clock until the clock catches up; ordering and uniqueness are kept.
//
// Generator state (24 bytes): +0 lastMs i64  +8 node u32  +12 seq u32
//                             +16 backSteps u32  +20 borrowed u32

@unmanaged export class IdGen {
  lastMs: i64;
  node: u32;
  seq: u32;
  backSteps: u32;
  borrowed: u32;
}

export function idgen_init(g: IdGen, node: u32): void {
  g.lastMs = -1;
  g.node = node & 0x3FF;
  g.seq = 0;
  g.backSteps = 0;
  g.borrowed = 0;
}

export function idgen_next(g: IdGen, nowUs: i64): u64 {
  let ms = nowUs / 1000;
  if (ms < 0) ms = 0;
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

const LIVE = memory.data(offsetof<IdGen>(), 8);
@inline export function idgen_live(): IdGen { return changetype<IdGen>(LIVE); }
