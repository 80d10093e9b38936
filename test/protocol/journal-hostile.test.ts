// Journal recovery over flash contents that pass every record CRC but do not
// make sense: a record is trusted only when its fields fit the record and
// its ids lie near the checkpoint's; anything else is dropped and counted
// (QosStat.BAD_RECORDS), never replayed into a trap, and recovery is idempotent.
// Also: a half a power cut left without its STATE never wins over the
// committed one (PROTOCOL.md section 7).
import { describe, it, expect } from "vitest";
import { loadCore } from "../../host/core.ts";
import { MemoryStorage } from "../../host/storage.ts";
import { rawFrame } from "../core/jsframe.ts";
import { crc32c } from "../../tools/crc32c.mjs";
import { FrameType, JournalRecord as R, JournalStat, Prio, Qos, QosStat } from "../../host/abi.ts";
import { flags } from "../../host/frame.ts";
import { raw } from "../support/raw-core.ts";

const SIZE = 8192;
const HALF = SIZE / 2;

/** Journal records as assembly/journal.ts writes them, one half at a time. */
class Half {
  private at: number;
  private lsn = 0;
  constructor(
    private region: Uint8Array,
    base: number,
    generation: number,
  ) {
    this.at = base;
    this.put(R.HEADER, u32s(generation));
  }
  put(type: number, data: Uint8Array): this {
    const n = (12 + data.length + 4 + 31) & ~31;
    const rec = new Uint8Array(n).fill(0xff);
    const v = new DataView(rec.buffer);
    rec[0] = 0xa5;
    rec[1] = type;
    v.setUint16(2, data.length, true);
    v.setUint32(4, ++this.lsn, true);
    v.setUint32(8, 0, true);
    rec.set(data, 12);
    v.setUint32(12 + data.length, crc32c(rec.subarray(0, 12 + data.length)), true);
    this.region.set(rec, this.at);
    this.at += n;
    return this;
  }
  /** STATE: q2 next, expected, delivered, released, done, digest, epochs. */
  state(next: number, expect: number, delivered: number, rel = next - 1, done = rel): this {
    return this.put(R.STATE, u32s(next, expect, delivered, rel, done, 0x1234, 0x51, 0x77));
  }
}

function u32s(...v: number[]): Uint8Array {
  const b = new Uint8Array(4 * v.length);
  const view = new DataView(b.buffer);
  for (let i = 0; i < v.length; i++) view.setUint32(4 * i, v[i] >>> 0, true);
  return b;
}

/** A QoS 2 DATA frame body as the journal keeps it (header + payload). */
function q2Frame(packet: number, payload: Uint8Array, lengthField?: number): Uint8Array {
  const raw = rawFrame(
    { type: FrameType.DATA, flags: flags(Prio.BULK, Qos.EXACTLY_ONCE), packet },
    payload,
    lengthField,
  );
  return raw.subarray(0, raw.length - 4);
}

function boot(region: Uint8Array) {
  const core = loadCore({ storage: new MemoryStorage(SIZE, region) });
  const st = raw(core).x.qn_journal_open(SIZE);
  const stats = Object.values(QosStat)
    .filter((w) => w !== QosStat.BAD_RECORDS)
    .map((w) => raw(core).x.qn_qos_stat(w) >>> 0);
  return { core, st, stats, bad: core.qosStat(QosStat.BAD_RECORDS) };
}

const fresh = () => new Uint8Array(SIZE).fill(0xff);

describe("journal recovery over hostile flash", () => {
  it("an IN record whose frame says 16,384 bytes in a 26-byte record is dropped, not replayed into a trap", () => {
    const region = fresh();
    new Half(region, 0, 1).state(1, 5, 4).put(R.IN, q2Frame(5, Uint8Array.of(1, 2), 16_384));
    for (let boots = 0; boots < 3; boots++) {
      const { core, st, bad } = boot(region);
      expect(st).toBe(0);
      expect(core.inboxPop()).toBeNull();
      expect(bad, `boot ${boots}`).toBe(boots === 0 ? 1 : 0); // dropped once; the compaction left it behind
      expect(core.qosStat(QosStat.Q2_EXPECTED)).toBe(5);
    }
  });

  it("a good IN record next to bad ones is still delivered once", () => {
    const region = fresh();
    new Half(region, 0, 1)
      .state(1, 5, 4)
      .put(R.IN, q2Frame(5, Uint8Array.of(7, 7, 7)))
      .put(R.IN, q2Frame(6, Uint8Array.of(1), 300)) // length past MAX_PAYLOAD
      .put(R.IN, Uint8Array.of(1, 2, 3)) // shorter than a header
      .put(R.IN, q2Frame(6, Uint8Array.of(1)).fill(3, 2, 3)) // priority 3, QoS 0
      .put(R.OUT, q2Frame(1, Uint8Array.of(1)).fill(0, 1, 2)); // not a DATA frame
    const { core, bad } = boot(region);
    expect(bad).toBe(4);
    const f = core.inboxPop();
    expect(f?.packet).toBe(5);
    expect(Array.from(f!.payload)).toEqual([7, 7, 7]);
    expect(core.inboxPop()).toBeNull();
  });

  it("ids 2^31 or more from the checkpoint's are dropped, and recovery is idempotent", () => {
    const region = fresh();
    const far = 0x8000_0000 + 10;
    new Half(region, 0, 1)
      .state(11, 21, 20, 8, 7)
      .put(R.REL, u32s(far))
      .put(R.DONE, u32s(far))
      .put(R.DELIVERED, u32s(far, 0xdead))
      .put(R.OUT, q2Frame(far, Uint8Array.of(1)))
      .put(R.IN, q2Frame(far + 10, Uint8Array.of(1)))
      .state(far, far, far)
      .put(R.REL, u32s(9)); // near: taken
    const first = boot(region);
    expect(first.bad).toBe(6);
    expect(first.stats.slice(0, 6)).toEqual([1, 11, 1, 21, 20, 7]); // q1 next, q2 next, q1 expect, q2 expect, delivered, done
    expect(first.stats[9]).toBe(9); // released
    expect(first.core.inboxPop()).toBeNull();
    // Booted again from what the first recovery compacted: the same state.
    const second = boot(region);
    expect(second.bad).toBe(0);
    expect(second.stats).toEqual(first.stats);
  });

  it("a newer half cut before its STATE does not replace the committed half", () => {
    const region = fresh();
    new Half(region, 0, 7)
      .state(31, 41, 39)
      .put(R.DELIVERED, u32s(40, 0xabcd))
      .put(R.IN, q2Frame(41, Uint8Array.of(4)));
    // The compaction into half 1 got as far as its header and one record.
    new Half(region, HALF, 8).put(R.OUT, q2Frame(31, Uint8Array.of(9)));
    const { st, stats, core } = boot(region);
    expect(st).toBe(0);
    expect(stats[1]).toBe(31); // q2 next
    expect(stats[3]).toBe(42); // q2 expected: the IN of 41 counts
    expect(stats[4]).toBe(40); // delivered
    expect(stats[10]).toBe(0xabcd); // digest
    expect(core.journalStat(JournalStat.GENERATION)).toBe(7); // the committed half's generation
    expect(core.inboxPop()?.packet).toBe(41);
  });
});
