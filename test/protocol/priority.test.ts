// Priority on a paced line (921600 baud, 8N1): the device's transmit side
// saturated with bulk frames, emergency frames queued at random moments.
// The scheduler must start each emergency frame within one pull of the
// line (plus, at worst, the rest of another emergency frame), never behind
// the queued bulk. The worst case is measured in bytes and in µs.
import { describe, it, expect } from "vitest";
import { Link } from "./harness.ts";
import { rng } from "../core/jsframe.ts";
import { Counter, Prio, SchedStat } from "../../host/abi.ts";

describe("emergency frames on a saturated 921600-baud line", () => {
  it("start within a few bytes of being queued, whatever bulk is waiting", () => {
    const BYTES_PER_MS = 92.16;
    const l = new Link({ role: 1, auth: 2 }, { role: 0, auth: 2 });
    l.connect();
    l.bytesPerMs = BYTES_PER_MS;
    const r = rng(17);
    const bulk = Buffer.alloc(240, 0xb0);
    let emergencies = 0,
      bulkQueued = 0,
      maxQueuedAhead = 0;
    for (let ms = 0; ms < 5000; ms++) {
      // Keep the bulk class full.
      while (l.b.publish(1, 0, bulk, 2) >= 0) bulkQueued++;
      if (ms > 50 && r() % 40 === 0) {
        const queuedAhead = l.b.core.txPending(Prio.BULK) * (bulk.length + 40) + l.b.core.txInFlight();
        if (l.b.publish(9, 0, Buffer.from("E-STOP"), 0) >= 0) {
          emergencies++;
          maxQueuedAhead = Math.max(maxQueuedAhead, queuedAhead);
        }
      }
      l.step();
    }
    const started = l.b.core.schedStat(SchedStat.EMERGENCY_SENT),
      worst = l.b.core.schedStat(SchedStat.EMERGENCY_MAX_AHEAD);
    const worstUs = ((worst * 10) / 921600) * 1e6;
    const got = l.a.got.filter((g) => g.channel === 9).length;
    console.log(
      `priority on a paced 921600-baud line: ${emergencies} emergency frames under ${bulkQueued} bulk frames; ` +
        `worst ${worst} bytes sent ahead of an emergency frame = ${worstUs.toFixed(0)} µs on the wire ` +
        `(bulk queued ahead at that moment up to ${maxQueuedAhead} bytes = ${(((maxQueuedAhead * 10) / 921600) * 1e3).toFixed(1)} ms without priority); ` +
        `bulk frames cut: ${l.b.core.counter(Counter.PREEMPT)}`,
    );
    expect(emergencies).toBeGreaterThan(50);
    expect(started).toBeGreaterThanOrEqual(emergencies);
    expect(got).toBe(emergencies);
    // One pull is at most 256 bytes of the line's credit here; the bytes
    // already handed out in that pull are the only ones ahead.
    expect(worst).toBeLessThanOrEqual(256);
    expect(maxQueuedAhead).toBeGreaterThan(1000);
  });
});
