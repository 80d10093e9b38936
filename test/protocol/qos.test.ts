// QoS through a hostile link: drops, duplicates, corruption, reordering,
// link cuts and device power cuts. QoS 2 must deliver every message exactly
// once and in order per channel; QoS 1 at least once. Figures are printed.
import { describe, it, expect } from "vitest";
import { Link, type End } from "./harness.ts";
import { rng } from "../core/jsframe.ts";
import { Counter as C, QosStat } from "../../host/abi.ts";

const N = Number(process.env.QN_QOS2_MESSAGES ?? 10_000);

function payloadFor(seq: number, r: () => number): Buffer {
  const b = Buffer.alloc(4 + (r() % 40));
  b.writeUInt32LE(seq, 0);
  for (let i = 4; i < b.length; i++) b[i] = r() & 0xff;
  return b;
}

interface Sent {
  seq: number;
  channel: number;
  payload: Buffer;
}

/** Publish `total` messages of `qos` from `from`, as fast as the window
 *  allows, while the link misbehaves and `chaos` runs every ms. */
function pump(
  l: Link,
  from: End,
  to: End,
  qos: number,
  total: number,
  r: () => number,
  chaos: (t: number) => void,
  limitMs: number,
) {
  const sent: Sent[] = [];
  let seq = 0,
    lastSeq = 0,
    lastProgress = l.t;
  const t0 = l.t;
  const state = (e: End) => {
    return `up=${e.up} state=${e.core.sessionState()} q2next=${e.core.qosStat(QosStat.Q2_NEXT)} q2expect=${e.core.qosStat(QosStat.Q2_EXPECTED)} done=${e.core.qosStat(QosStat.Q2_DONE)} rel=${e.core.qosStat(QosStat.Q2_RELEASED)} q1next=${e.core.qosStat(QosStat.Q1_NEXT)} q1expect=${e.core.qosStat(QosStat.Q1_EXPECTED)} inflight=${e.core.qosStat(QosStat.IN_FLIGHT)}`;
  };
  while (l.t - t0 < limitMs) {
    chaos(l.t);
    if (seq !== lastSeq) {
      lastSeq = seq;
      lastProgress = l.t;
    }
    if (l.t - lastProgress > 60_000)
      throw new Error(
        `stalled at t=${l.t} ms after ${seq} messages: from ${state(from)} | to ${state(to)} | cut=${l.cut}`,
      );
    while (seq < total) {
      const channel = seq % 3;
      const p = payloadFor(seq, r);
      const pid = from.publish(channel, qos, p);
      if (pid < 0) break; // window full, link down or resetting: later
      sent.push({ seq, channel, payload: p });
      seq++;
    }
    l.step();
    if (seq >= total && from.core.qosStat(QosStat.IN_FLIGHT) === 0) {
      // Let the last acks land, then stop.
      l.run(50);
      break;
    }
  }
  return sent;
}

function checkExactlyOnce(sent: Sent[], got: End["got"], qos: number) {
  const mine = got.filter((g) => g.qos === qos);
  const bySeq = new Map<number, number>();
  for (const g of mine) {
    const seq = g.payload.readUInt32LE(0);
    bySeq.set(seq, (bySeq.get(seq) ?? 0) + 1);
    const s = sent[seq];
    expect(s, `delivered seq ${seq} was never sent`).toBeTruthy();
    expect(g.payload.equals(s.payload), `seq ${seq} payload differs`).toBe(true);
    expect(g.channel).toBe(s.channel);
  }
  const lost = sent.filter((s) => !bySeq.has(s.seq)).length;
  const doubled = [...bySeq.values()].filter((n) => n > 1).length;
  // In order per channel.
  for (const ch of [0, 1, 2]) {
    const seqs = mine.filter((g) => g.channel === ch).map((g) => g.payload.readUInt32LE(0));
    const firsts = seqs.filter((s, i) => seqs.indexOf(s) === i);
    expect(firsts, `channel ${ch} out of order`).toEqual([...firsts].sort((a, b) => a - b));
  }
  return { lost, doubled, delivered: mine.length };
}

describe("QoS 2 exactly once", () => {
  it(`${N} messages through drop/duplicate/corrupt/reorder, link cuts and device resets: zero lost, zero doubled`, () => {
    const r = rng(2024);
    const l = new Link(
      { role: 1, auth: 2, seed: 11 },
      { role: 0, auth: 2, seed: 12 },
      { drop: 0.03, duplicate: 0.03, corrupt: 0.02, reorder: 0.02 },
      77,
    );
    l.connect();
    let resets = 0,
      cuts = 0;
    let cutUntil = -1;
    const chaos = (t: number) => {
      if (t === cutUntil) l.cut = false;
      if (!l.cut && r() % 4000 === 0) {
        l.cut = true;
        cutUntil = t + 100 + (r() % 400);
        cuts++;
      }
      if (r() % 1500 === 0) {
        l.b.reset();
        resets++;
      }
    };
    const t0 = Date.now();
    // Host -> device, then device -> host (the device as sender resets too).
    const sentAB = pump(l, l.a, l.b, 2, N, r, chaos, 2_000_000);
    l.cut = false;
    const ab = checkExactlyOnce(sentAB, l.b.got, 2);
    const sentBA = pump(l, l.b, l.a, 2, Math.floor(N / 5), r, chaos, 1_000_000);
    l.cut = false;
    const ba = checkExactlyOnce(sentBA, l.a.got, 2);
    const dups = l.a.total(C.DUP_SUPPRESSED) + l.b.total(C.DUP_SUPPRESSED);
    const replays = l.a.total(C.REPLAY) + l.b.total(C.REPLAY);
    const retx = l.a.total(C.RETX) + l.b.total(C.RETX);
    const s = l.stats;
    console.log(
      `QoS2 fault injection: host->device sent ${sentAB.length}, delivered ${ab.delivered}, lost ${ab.lost}, doubled ${ab.doubled}; ` +
        `device->host sent ${sentBA.length}, delivered ${ba.delivered}, lost ${ba.lost}, doubled ${ba.doubled}; ` +
        `device resets ${resets}, link cuts ${cuts}; frames dropped ${s.ab.dropped + s.ba.dropped}, duplicated ${s.ab.duplicated + s.ba.duplicated}, ` +
        `corrupted ${s.ab.corrupted + s.ba.corrupted}, reordered ${s.ab.reordered + s.ba.reordered}; retransmitted duplicates suppressed ${dups}, wire duplicates refused by the replay window ${replays} (over all boots), ` +
        `retransmissions ${retx}; simulated ${(l.t / 1000).toFixed(1)} s in ${Date.now() - t0} ms`,
    );
    expect(sentAB.length).toBe(N);
    expect(ab).toMatchObject({ lost: 0, doubled: 0, delivered: N });
    expect(ba).toMatchObject({ lost: 0, doubled: 0 });
    expect(resets).toBeGreaterThan(0);
    expect(cuts).toBeGreaterThan(0);
  }, 600_000);
});

describe("QoS 1 at least once", () => {
  it("every message arrives at least once through a lossy link with resets", () => {
    const r = rng(99);
    const l = new Link({ role: 1, auth: 1 }, { role: 0, auth: 1 }, { drop: 0.05, duplicate: 0.05, corrupt: 0.02 }, 5);
    l.connect();
    let resets = 0;
    const sent = pump(
      l,
      l.a,
      l.b,
      1,
      3000,
      r,
      () => {
        if (r() % 800 === 0) {
          l.b.reset();
          resets++;
        }
      },
      1_000_000,
    );
    const seqs = new Set(l.b.got.filter((g) => g.qos === 1).map((g) => g.payload.readUInt32LE(0)));
    const lost = sent.filter((s) => !seqs.has(s.seq)).length;
    console.log(
      `QoS1: sent ${sent.length}, distinct delivered ${seqs.size}, deliveries ${l.b.got.length}, lost ${lost}, device resets ${resets}`,
    );
    expect(sent.length).toBe(3000);
    expect(lost).toBe(0);
  }, 300_000);
});
