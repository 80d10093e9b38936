// QoS 1/2 retransmission on a lossy line: a lost message is resent at the
// first acknowledgement that names a frame sent after it (the receiver
// holds frames past the gap and acks them in its SACK bitmap), not at the
// timeout (selective-repeat.test.ts pins what each loss costs); a resend
// that finds the outbox full goes on where it stopped instead of leaving a
// new gap; and the timeout follows the measured round trip (assembly/rto.ts).
// Two cores on a simulated clock, the line paced to 921600 baud.
import { describe, it, expect } from "vitest";
import { Link } from "./harness.ts";
import { ConfigKey, Counter, QosStat } from "../../host/abi.ts";

const BYTES_PER_MS = 92.16;

/** Drop the frames end `e` receives whose 1-based arrival numbers (from
 *  now on) `drop` names (in frame mode each rx call is one frame). */
function dropArrivals(core: { rx(b: Uint8Array): number }, drop: (n: number) => boolean): void {
  const rx = core.rx.bind(core);
  let n = 0;
  core.rx = (b: Uint8Array) => (drop(++n) ? 0 : rx(b));
}

/** A client publishing `n` 32-byte messages at `qos` as fast as its window
 *  takes them; returns the ms each was delivered at, by sequence number. */
function publishAll(l: Link, qos: number, n: number, limitMs: number): number[] {
  const at: number[] = [];
  const p = new Uint8Array(32);
  let sent = 0;
  for (let t = 0; t < limitMs && at.length < n; t++) {
    while (sent < n) {
      new DataView(p.buffer).setUint32(0, sent, true);
      if (l.a.publish(1, qos, p) < 0) break;
      sent++;
    }
    const before = l.b.got.length;
    l.step();
    for (let i = before; i < l.b.got.length; i++) at.push(l.t);
  }
  return at;
}

function link(rtoMinMs: number) {
  const o = { heartbeatMs: 1000, misses: 3, retxMs: 500 };
  const l = new Link({ role: 1, ...o }, { role: 0, ...o });
  l.bytesPerMs = BYTES_PER_MS;
  l.connect();
  for (const e of [l.a, l.b]) {
    e.core.setConfig(ConfigKey.RTO_MAX_MS, 2000);
    e.core.setConfig(ConfigKey.RTO_MIN_MS, rtoMinMs);
  }
  return l;
}

describe("QoS retransmission", () => {
  for (const qos of [1, 2]) {
    it(`QoS ${qos}: a message lost in the middle of a window is resent at the first ack past it, long before the timeout`, () => {
      // A 500 ms floor under the timeout: only a resend triggered by the
      // acks of the frames after it delivers the lost message within a few
      // round trips.
      const l = link(500);
      dropArrivals(l.b.core, (k) => k === 3);
      const at = publishAll(l, qos, 20, 3000);
      expect(at.length).toBe(20);
      expect(l.b.total(Counter.OOO_HELD)).toBeGreaterThan(0); // there was a gap
      const start = at[0] - 10;
      expect(at[19] - start).toBeLessThan(100);
      expect(l.b.got.map((g) => new DataView(g.payload.buffer, g.payload.byteOffset).getUint32(0, true))).toEqual([
        ...Array(20).keys(),
      ]);
    });
  }

  it("one lost message costs one resent window, not a chain of resends cut short by a full outbox", () => {
    const l = link(20);
    dropArrivals(l.b.core, (k) => k === 5);
    const at = publishAll(l, 1, 200, 5000);
    expect(at.length).toBe(200);
    // The window is 8: one go-back resends at most 8 messages.
    expect(l.a.total(Counter.RETX)).toBeLessThanOrEqual(8);
  });

  it("measures the round trip from acks of messages sent once and sets the timeout from it", () => {
    const l = link(20);
    publishAll(l, 1, 100, 3000);
    l.run(50); // the last acknowledgements come back
    const c = l.a.core;
    const srtt = c.qosStat(QosStat.SRTT_US);
    const rto = c.qosStat(QosStat.RTO_US);
    // One sample per acknowledgement that names a message sent once (a
    // cumulative ack queued behind another replaces it on a busy line).
    expect(c.qosStat(QosStat.RTT_SAMPLES)).toBeGreaterThan(10);
    // A 70-byte frame each way at 92 bytes/ms, queued behind the window:
    // a few ms, far below the configured initial 500 ms.
    expect(srtt).toBeGreaterThan(1000);
    expect(srtt).toBeLessThan(20_000);
    expect(rto).toBeGreaterThan(srtt);
    expect(rto).toBeLessThan(50_000);
    // No timeout fired on the clean line: the 20 ms floor covers the round
    // trip growing while the window fills (the smoothed figure lags it).
    expect(l.a.total(Counter.RETX)).toBe(0);
  });
});
