// Selective repeat (assembly/hold.ts, qos.ts sack()): a receiver holds the
// QoS 1/2 frames that arrive past a lost one and names them in its acks'
// SACK bitmap, so the sender resends the lost frame alone; held frames
// reach the application only once the gap fills, in the order they were
// published; and at QoS 2 nothing about a held frame is journalled (a SACK
// commits nothing), so a power cut while frames are held loses and doubles
// nothing. Two cores on a simulated clock, the line paced to 921600 baud.
import { describe, it, expect } from "vitest";
import { Link, type End } from "./harness.ts";
import { MemoryStorage } from "../../host/storage.ts";
import { Capability, ConfigKey, Counter, QosStat, SessionStat } from "../../host/abi.ts";

const BYTES_PER_MS = 92.16;

/** Drop the frames `end`'s current core receives whose 1-based arrival
 *  numbers (from now on) `drop` names (each rx call is one frame). */
function dropArrivals(end: End, drop: (n: number) => boolean): void {
  const core = end.core;
  const rx = core.rx.bind(core);
  let n = 0;
  core.rx = (b: Uint8Array) => (drop(++n) ? 0 : rx(b));
}

const seqOf = (g: End["got"][number]) => new DataView(g.payload.buffer, g.payload.byteOffset).getUint32(0, true);

/** `noSack`: that end acts as a core without selective repeat. */
function pacedLink(opts: { rtoMinMs?: number; storage?: MemoryStorage; noSack?: "a" | "b" } = {}): Link {
  const o = { heartbeatMs: 1000, misses: 3, retxMs: 500 };
  const l = new Link(
    { role: 1, ...o, sackOff: opts.noSack === "a" },
    { role: 0, ...o, storage: opts.storage, sackOff: opts.noSack === "b" },
  );
  l.bytesPerMs = BYTES_PER_MS;
  l.connect();
  for (const e of [l.a, l.b]) {
    e.core.setConfig(ConfigKey.RTO_MAX_MS, 2000);
    e.core.setConfig(ConfigKey.RTO_MIN_MS, opts.rtoMinMs ?? 500);
  }
  return l;
}

/** Publish messages 0 .. n-1 (32 bytes, sequence number first) from a at
 *  `qos` as fast as the window takes them, on channels 1..3 in turn, while
 *  `each` runs every ms; until b has them all or `limitMs` passed. */
function publishAll(l: Link, qos: number, n: number, limitMs: number, each: (t: number) => void = () => {}): void {
  const p = new Uint8Array(32);
  let sent = 0;
  for (let t = 0; t < limitMs && l.b.got.length < n; t++) {
    while (sent < n) {
      new DataView(p.buffer).setUint32(0, sent, true);
      if (l.a.publish(1 + (sent % 3), qos, p) < 0) break;
      sent++;
    }
    l.step();
    each(t);
  }
}

const inUse = (e: End) => e.core.pool(0).inUse + e.core.pool(1).inUse;

describe("selective repeat", () => {
  for (const qos of [1, 2]) {
    it(`QoS ${qos}: a frame lost mid-window costs exactly one resend, of that frame`, () => {
      // A 500 ms floor under the timeout: only the SACK brings the resend.
      const l = pacedLink();
      let lost = -1;
      const rx = l.b.core.rx.bind(l.b.core);
      let k = 0;
      l.b.core.rx = (b: Uint8Array) => {
        if (++k !== 3) return rx(b);
        lost = k;
        return 0;
      };
      publishAll(l, qos, 40, 3000);
      expect(lost).toBe(3);
      expect(l.b.got.map(seqOf)).toEqual([...Array(40).keys()]);
      expect(l.b.total(Counter.OOO_HELD)).toBeGreaterThan(0); // frames past the gap were held...
      expect(l.b.total(Counter.OOO_DROP)).toBe(0); // ...none dropped
      l.run(100); // the last acknowledgements come back
      expect(l.a.core.qosStat(QosStat.IN_FLIGHT)).toBe(0);
      expect(l.a.total(Counter.RETX)).toBe(1);
    });
  }

  it("frames held past several gaps reach the application in publish order, each level and channel in order", () => {
    const l = pacedLink();
    // Lose the 2nd, 5th, 6th and 11th frames: three gaps, one of two ids.
    dropArrivals(l.b, (k) => k === 2 || k === 5 || k === 6 || k === 11);
    // While a gap is open the application never sees anything past it:
    // what it has is always messages 0 .. k-1.
    let prefixOk = true;
    publishAll(l, 1, 60, 3000, () => {
      if (!l.b.got.every((g, i) => seqOf(g) === i)) prefixOk = false;
    });
    expect(prefixOk).toBe(true);
    expect(l.b.got.map(seqOf)).toEqual([...Array(60).keys()]);
    for (const ch of [1, 2, 3]) {
      const s = l.b.got.filter((g) => g.channel === ch).map(seqOf);
      expect(s).toEqual([...s].sort((x, y) => x - y));
    }
    expect(l.b.total(Counter.OOO_HELD)).toBeGreaterThan(4);
    l.run(100);
    // Each lost frame was resent once: 4 losses, 4 resends.
    expect(l.a.total(Counter.RETX)).toBe(4);
  });

  it("held frames whose turn comes while the inbox is full wait for room, and leak no block", () => {
    const l = pacedLink({ rtoMinMs: 20 });
    const before = inUse(l.b);
    dropArrivals(l.b, (k) => k === 3);
    // The application stops taking messages for a while: the inbox (8
    // slots) fills while the frames after the gap are released into it.
    const drain = l.b.drain.bind(l.b);
    l.b.drain = () => {};
    const p = new Uint8Array(32);
    let sent = 0;
    for (let t = 0; t < 3000 && l.b.got.length < 30; t++) {
      while (sent < 30) {
        new DataView(p.buffer).setUint32(0, sent, true);
        if (l.a.publish(1, 1, p) < 0) break;
        sent++;
      }
      if (t === 300) l.b.drain = drain;
      l.step();
    }
    expect(l.b.got.map(seqOf)).toEqual([...Array(30).keys()]);
    l.run(200);
    expect(l.a.core.qosStat(QosStat.IN_FLIGHT)).toBe(0);
    expect(inUse(l.b)).toBe(before);
  });

  it("QoS 2: a power cut while frames are held loses and doubles nothing", () => {
    const l = pacedLink({ rtoMinMs: 20 });
    dropArrivals(l.b, (k) => k === 3 || k === 4);
    const p = new Uint8Array(32);
    let sent = 0,
      cut = false,
      gotAtCut = -1;
    for (let t = 0; t < 10_000 && !(l.b.got.length >= 50 && l.a.core.qosStat(QosStat.IN_FLIGHT) === 0); t++) {
      while (sent < 50) {
        new DataView(p.buffer).setUint32(0, sent, true);
        if (l.a.publish(1, 2, p) < 0) break;
        sent++;
      }
      l.step();
      // The device loses power with frames held past the gap, before the
      // lost ones are resent.
      if (!cut && l.b.total(Counter.OOO_HELD) >= 3) {
        gotAtCut = l.b.got.length;
        l.b.reset();
        cut = true;
      }
    }
    expect(cut).toBe(true);
    expect(gotAtCut).toBe(2); // messages 0 and 1; 2 and 3 lost, 4.. held
    expect(l.b.got.map(seqOf)).toEqual([...Array(50).keys()]);
    expect(l.b.core.qosStat(QosStat.Q2_DELIVERED)).toBe(l.b.got.at(-1)!.packet);
  });

  it("QoS 2 with frames held all along: a power cut at any flash operation loses and doubles nothing", () => {
    const MESSAGES = 40;
    const run = (cutAtOp: number, mode: "before" | "torn") => {
      const storage = new MemoryStorage(4096);
      const l = pacedLink({ rtoMinMs: 20, storage });
      const dev = l.b;
      // Every 7th frame the device receives is lost, so frames are held
      // and then accepted in bursts (several journal records at once).
      const lossy = () => dropArrivals(dev, (k) => k % 7 === 0);
      lossy();
      dev.drain = dev.drainWhilePowered;
      storage.ops = 0;
      storage.cutAtOp = cutAtOp;
      storage.cutMode = mode;
      let cuts = 0,
        sent = 0;
      const p = new Uint8Array(32);
      for (let t = 0; t < 20_000 && !(dev.got.length >= MESSAGES && l.a.core.qosStat(QosStat.IN_FLIGHT) === 0); t++) {
        while (sent < MESSAGES) {
          new DataView(p.buffer).setUint32(0, sent, true);
          if (l.a.publish(1, 2, p) < 0) break;
          sent++;
        }
        l.step();
        if (storage.powerLost) {
          const ops = storage.ops;
          storage.cutAtOp = Infinity;
          dev.reset();
          lossy();
          storage.ops = ops;
          cuts++;
        }
      }
      return { ops: storage.ops, cuts, seqs: dev.got.map(seqOf), held: dev.total(Counter.OOO_HELD) };
    };
    const want = [...Array(MESSAGES).keys()];
    const clean = run(Infinity, "torn");
    expect(clean.cuts).toBe(0);
    expect(clean.seqs).toEqual(want);
    expect(clean.held).toBeGreaterThan(10);
    let runs = 0;
    for (const mode of ["before", "torn"] as const)
      for (let k = 0; k < clean.ops; k++) {
        const r = run(k, mode);
        expect(r.cuts, `cut at op ${k} (${mode}) did not happen`).toBe(1);
        expect(r.seqs, `cut at op ${k} (${mode})`).toEqual(want);
        runs++;
      }
    expect(runs).toBeGreaterThan(20);
  }, 120_000);

  for (const old of ["a", "b"] as const) {
    it(`with a ${old === "a" ? "sender" : "receiver"} without selective repeat: a loss mid-window is resent at the first duplicate ack, with the window after it (go-back-N)`, () => {
      const l = pacedLink({ noSack: old });
      expect(Number(l.a.core.sessionStat(SessionStat.PEER_CAPS)) & Capability.SACK).toBe(
        old === "b" ? 0 : Capability.SACK,
      );
      dropArrivals(l.b, (k) => k === 3);
      const t0 = l.t;
      publishAll(l, 1, 20, 3000);
      expect(l.b.got.map(seqOf)).toEqual([...Array(20).keys()]);
      // Long before the 500 ms timeout floor: the duplicate ack sent it back.
      expect(l.t - t0).toBeLessThan(100);
      expect(l.b.total(Counter.OOO_HELD)).toBe(0);
      expect(l.b.total(Counter.OOO_DROP)).toBeGreaterThan(0);
      l.run(100);
      const retx = l.a.total(Counter.RETX);
      expect(retx).toBeGreaterThan(1); // the frames after the loss went again
      expect(retx).toBeLessThanOrEqual(8);
    });
  }
});
