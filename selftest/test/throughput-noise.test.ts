// The throughput check on a line that loses frames: an echo that never
// comes back is counted lost after a retransmission timeout and frees its
// window slot, so a loss costs that frame, not the rest of the run.
import { describe, it, expect } from "vitest";
import { CHECKS, type Context } from "../checks.ts";
import { connectSim, readKey, DEFAULT_KEY_FILE } from "../targets.ts";
import { runChecks } from "../run.ts";
import { rng } from "../../host/rng.ts";

describe("link.throughput on a lossy line", () => {
  it("keeps its window moving past lost echoes and reports them", async () => {
    const conn = await connectSim(readKey(DEFAULT_KEY_FILE), 2);
    try {
      await conn.peer.connect();
      const ctx: Context = {
        peer: conn.peer,
        faulty: conn.faulty,
        target: "sim",
        mode: "quick",
        lineRate: null,
        expected: conn.expected,
      };
      // One host frame in ten dropped (seeded): with a window of 4 the
      // first loss used to hold the window shut until the check gave up.
      const r = rng(7);
      conn.faulty.faults = { drop: 0.1, random: () => r() / 2 ** 32 };
      const out = await runChecks(
        ctx,
        CHECKS.filter((c) => c.id === "link.throughput"),
        () => {},
        null,
      );
      conn.faulty.faults = {};
      const t = out.tests[0];
      expect(t.status, JSON.stringify(t)).toBe("PASS");
      const lost = Number(t.metrics.frames_lost),
        echoed = Number(t.metrics.frames_echoed),
        sent = Number(t.metrics.frames_sent);
      expect(lost).toBeGreaterThan(0);
      expect(lost).toBeLessThanOrEqual(conn.faulty.stats.dropped); // heartbeats are dropped too
      expect(echoed + lost).toBe(sent);
      // Far more than the window's worth got through.
      expect(echoed).toBeGreaterThan(10 * Number(t.metrics.window));
      expect(t.detail).toMatch(/lost/);
    } finally {
      await conn.close();
    }
  });
});
