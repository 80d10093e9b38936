// clock.monotonic against the in-process device: late answers and retried
// requests (a loaded host, a lossy line) must not make a good clock FAIL,
// and a device clock that runs at the wrong rate must FAIL through them.
import { describe, it, expect } from "vitest";
import { CHECKS, type Context } from "../checks.ts";
import { coreManifest } from "../targets.ts";
import { runChecks, type TestEntry } from "../run.ts";
import { rateBracket, rateVerdict, type ClockSample } from "../clock-rate.ts";
import { Peer } from "../../host/peer.ts";
import { SimDevice } from "../../host/sim-device.ts";
import { memoryLink } from "../../host/transport/memory.ts";
import { FaultyTransport } from "../../host/transport/faulty.ts";
import type { Transport } from "../../host/transport/transport.ts";
import { rng } from "../../host/rng.ts";

const CLOCK = CHECKS.filter((c) => c.id === "clock.monotonic");

/** What happens to the device's i-th write: delivered after a delay (ms),
 *  or lost. */
type Plan = (i: number) => number | "lost";

/** The device's end of the link, holding back or losing its answers. */
class LateAnswers implements Transport {
  readonly name: string;
  private writes = 0;
  constructor(
    private readonly inner: Transport,
    private readonly plan: Plan,
  ) {
    this.name = inner.name;
  }
  open() {
    return this.inner.open();
  }
  onData(l: (b: Uint8Array) => void) {
    this.inner.onData(l);
  }
  onClose(l: (e?: Error) => void) {
    this.inner.onClose(l);
  }
  close() {
    return this.inner.close();
  }
  async write(bytes: Uint8Array): Promise<void> {
    const what = this.plan(this.writes++);
    if (what === "lost") return;
    if (what <= 0) return this.inner.write(bytes);
    // Later writes are not held up behind this one, as on a stalled host.
    setTimeout(() => {
      this.inner.write(bytes).catch(() => {});
    }, what);
  }
}

async function clockCheck(o: { plan?: Plan; clockRate?: number; attemptMs?: number }): Promise<TestEntry> {
  const { a, b } = memoryLink();
  const dev = new SimDevice(new LateAnswers(b, o.plan ?? (() => 0)), { clockRate: o.clockRate });
  const faulty = new FaultyTransport(a);
  const peer = new Peer(faulty, { attemptMs: o.attemptMs });
  try {
    const ctx: Context = {
      peer,
      faulty,
      target: "sim",
      mode: "quick",
      lineRate: null,
      expected: { core: coreManifest() },
    };
    return (await runChecks(ctx, CLOCK, () => {}, null)).tests[0];
  } finally {
    dev.close();
    await peer.close();
  }
}

/** Half the answers late by up to 120 ms, from a seeded source. */
function jitter(seed: number): Plan {
  const r = rng(seed);
  return () => (r() % 2 ? r() % 120 : 0);
}

describe("clock.monotonic", () => {
  it("PASS when the first answer comes 250 ms late (a stalled host)", async () => {
    const t = await clockCheck({ plan: (i) => (i === 0 ? 250 : 0) });
    expect(t.status, t.detail).toBe("PASS");
  });

  it("PASS when the first answer is lost and its request retried", async () => {
    const t = await clockCheck({ plan: (i) => (i === 0 ? "lost" : 0), attemptMs: 150 });
    expect(t.status, t.detail).toBe("PASS");
  });

  it("PASS with half the answers up to 120 ms late", async () => {
    const t = await clockCheck({ plan: jitter(9) });
    expect(t.status, t.detail).toBe("PASS");
    expect(t.metrics.rate_low as number).toBeLessThanOrEqual(1);
    expect(t.metrics.rate_high as number).toBeGreaterThanOrEqual(1);
  });

  it.each([1.25, 0.8, 1.15])("FAIL for a device clock at %sx the host's, through late answers", async (rate) => {
    const t = await clockCheck({ clockRate: rate, plan: jitter(11) });
    expect(t.status, t.detail).toBe("FAIL");
    // The rate is measured: the figure in the text is the metric, and the
    // bracket the check gives holds the clock's true rate. How narrow the
    // bracket is depends on the round trips, so on how loaded the host is.
    const said = /^device clock runs at (\d+\.\d{3})x the host clock/.exec(t.detail ?? "");
    expect(said, t.detail).not.toBeNull();
    expect(Number(said![1])).toBeCloseTo(t.metrics.rate_vs_host as number, 3);
    expect(t.metrics.rate_low as number, t.detail).toBeLessThanOrEqual(rate);
    expect((t.metrics.rate_high as number | null) ?? Infinity, t.detail).toBeGreaterThanOrEqual(rate);
  });
});

describe("rateBracket", () => {
  // Host times in µs; a device clock at rate 1 with its boot 5 s before.
  const at = (sent: number, rtt: number, stampAfter = rtt / 2, rate = 1): ClockSample => ({
    sent,
    received: sent + rtt,
    device: 5e6 + (sent + stampAfter) * rate,
  });

  it("uses the pair with the tightest bracket: one slow round trip does not tilt it", () => {
    const b = rateBracket([at(0, 200_000, 0), at(10_000, 100), at(290_000, 100), at(300_000, 150_000, 150_000)])!;
    expect(b.rttUs).toEqual([100, 100]);
    expect(b.rate).toBeCloseTo(1, 6);
    expect(b.low).toBeLessThanOrEqual(1);
    expect(b.high).toBeGreaterThanOrEqual(1);
    expect(rateVerdict(b, 0.02)).toBe("ok");
  });

  it("a wrong rate is 'wrong' even where every round trip is slow", () => {
    const b = rateBracket([at(0, 20_000, 0, 1.3), at(1_000_000, 20_000, 20_000, 1.3)])!;
    expect(b.high).toBeGreaterThan(1.25);
    expect(rateVerdict(b, 0.1)).toBe("wrong");
  });

  it("a bracket wider than the tolerance is 'unsure', not a pass", () => {
    const b = rateBracket([at(0, 100_000), at(300_000, 100_000)])!;
    expect(rateVerdict(b, 0.1)).toBe("unsure");
  });

  it("fewer than two samples: no bracket", () => {
    expect(rateBracket([])).toBeNull();
    expect(rateBracket([at(0, 100)])).toBeNull();
  });
});
