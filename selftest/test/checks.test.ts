// The checks can fail: a target that is not the build's, and a lossy link
// that the peer's retries must ride through.
import { describe, it, expect } from "vitest";
import { CHECKS, type Context } from "../checks.ts";
import { connectSim, readKey, DEFAULT_KEY_FILE } from "../targets.ts";
import { FaultyTransport } from "../../host/transport/faulty.ts";
import { runChecks } from "../run.ts";
import { Peer } from "../../host/peer.ts";
import { SimDevice } from "../../host/sim-device.ts";
import { memoryLink } from "../../host/transport/memory.ts";
import { rng } from "../../host/rng.ts";

const pick = (...ids: string[]) => CHECKS.filter((c) => ids.includes(c.id));

describe("selftest checks", () => {
  it("boot.identity and core.integrity FAIL against a manifest of another build", async () => {
    const conn = await connectSim(readKey(DEFAULT_KEY_FILE), 2);
    try {
      await conn.peer.connect();
      const ctx: Context = {
        peer: conn.peer,
        faulty: conn.faulty,
        target: "sim",
        mode: "quick",
        lineRate: null,
        expected: {
          core: { ...conn.expected.core, build_id: conn.expected.core.build_id ^ 1 },
          image: { ...conn.expected.image!, crc32c: 0x1234 },
        },
      };
      const r = await runChecks(ctx, pick("boot.identity", "core.integrity"), () => {}, null);
      expect(r.tests.map((t) => t.status)).toEqual(["FAIL", "FAIL"]);
      expect(r.tests[0].detail).toMatch(/differs from the build manifest/);
      expect(r.health_status).toBe("FAIL");
    } finally {
      await conn.close();
    }
  });

  it("rides through a link that drops, duplicates and corrupts chunks", async () => {
    const r = rng(42);
    const { a, b } = memoryLink({ drop: 0.1, duplicate: 0.1, corrupt: 0.1, random: () => r() / 2 ** 32 });
    const dev = new SimDevice(b);
    const faulty = new FaultyTransport(a);
    const peer = new Peer(faulty, { attemptMs: 40 });
    const conn = await connectSim(readKey(DEFAULT_KEY_FILE), 2);
    try {
      const ctx: Context = { peer, faulty, target: "sim", mode: "quick", lineRate: null, expected: conn.expected };
      const out = await runChecks(
        ctx,
        pick("boot.identity", "mem.pools", "frame.codec", "link.loopback_latency"),
        () => {},
        null,
      );
      expect(
        out.tests.map((t) => t.status),
        JSON.stringify(out.tests),
      ).toEqual(["PASS", "PASS", "PASS", "PASS"]);
      expect(peer.retries).toBeGreaterThan(0);
    } finally {
      dev.close();
      await peer.close();
      await conn.close();
    }
  });
});
