// The selftest on a noisy line (issue 17 item 3): every check passes at a
// bit error rate of 1e-4 both ways (the in-process device behind a noisy
// transport, the QEMU board behind the line-noise relay at its UART
// socket), the report gives the line's quality with an estimated BER near
// the injected one, and a check that cannot finish on a very bad line says
// it could not verify, not that QN is at fault. Seeded noise; the checks
// retry within their own time, so a loaded machine makes them slower, not
// failed.
import { describe, it, expect } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../host/status.ts";
import { validateReport } from "./schema.ts";
import { coreManifest, readKey, sessionOptions, DEFAULT_KEY_FILE } from "../targets.ts";
import { memoryLink } from "../../host/transport/memory.ts";
import { NoisyTransport } from "../../host/transport/noisy.ts";
import { FaultyTransport } from "../../host/transport/faulty.ts";
import { SimDevice } from "../../host/sim-device.ts";
import { Peer } from "../../host/peer.ts";
import { runChecks } from "../run.ts";
import { FrameType } from "../../host/frame.ts";
import { estimateBer, parseNoise } from "../line-quality.ts";
import type { Check } from "../checks.ts";

const BIN = join(ROOT, "qn_selftest");
const ELF = join(ROOT, "build/mps2-an500/release/qn.elf");

function selftest(args: string[]) {
  const r = spawnSync(BIN, ["--output=json", "--line-noise", "ber=1e-4,seed=3", ...args], {
    encoding: "utf8",
    timeout: 240_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const report = JSON.parse(r.stdout);
  expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
  return report;
}

function expectLineMeasured(report: any) {
  const line = report.line;
  expect(line.injected.ber).toBe(1e-4);
  expect(line.injected.to_device.flipped + line.injected.to_host.flipped).toBeGreaterThan(0);
  expect(line.to_host.frames_damaged).toBeGreaterThan(0);
  // The estimate from frame errors lands near the injected rate (a factor
  // of 3 either way: a few dozen damaged frames make it).
  expect(line.estimated_ber).toBeGreaterThan(1e-4 / 3);
  expect(line.estimated_ber).toBeLessThan(1e-4 * 3);
  expect(line.verdict).toBe("noisy");
}

describe("qn_selftest --line-noise 1e-4", () => {
  it("sim: every check that can run in-process passes, with the line's quality reported", () => {
    const report = selftest(["--target", "sim", "--mode=quick"]);
    expect(report.tests.filter((t: any) => t.status === "FAIL")).toEqual([]);
    expect(report.summary).toEqual({ passed: 16, failed: 0, skipped: 1 });
    expectLineMeasured(report);
  });

  it.skipIf(!existsSync(ELF))(
    "QEMU board through the relay at its UART socket: 17/17 PASS, the line's quality reported",
    () => {
      const report = selftest(["--target", "qemu", "--mode=quick"]);
      expect(report.tests.filter((t: any) => t.status !== "PASS")).toEqual([]);
      expect(report.summary).toEqual({ passed: 17, failed: 0, skipped: 0 });
      expect(report.line.injected.how).toMatch(/relay/);
      expect(report.line.to_device).not.toBeNull();
      expectLineMeasured(report);
    },
  );
});

describe("a check that cannot finish on a very bad line", () => {
  it("says it could not verify on this line, with what the line did, instead of naming a fault", async () => {
    // The in-process target of connectSim, with its noisy transport in
    // hand: the line goes bad once the session is up.
    const { a, b } = memoryLink();
    const key = readKey(DEFAULT_KEY_FILE);
    const dev = new SimDevice(b, { key, auth: 2 });
    const noisy = new NoisyTransport(a, { seed: 5 });
    const faulty = new FaultyTransport(noisy);
    const peer = new Peer(faulty, { session: sessionOptions(key, 2) });
    const conn = { peer, faulty, expected: { core: coreManifest() } };
    try {
      await peer.connect(10_000);
      noisy.out.opts.ber = noisy.in.opts.ber = 3e-3;
      // Pings large enough that most are damaged at this rate, then what a
      // check does when its target stays silent: it throws.
      const check: Check = {
        n: 4,
        id: "mem.leak",
        name: "probe",
        async run(ctx) {
          for (let i = 0; i < 20; i++)
            await ctx.peer
              .request(FrameType.PING, { payload: new Uint8Array(200), timeoutMs: 300, attemptMs: 100 })
              .catch(() => {});
          throw new Error("no answer within the timeout");
        },
      };
      const ctx = {
        peer: conn.peer,
        faulty: conn.faulty,
        target: "sim" as const,
        mode: "quick" as const,
        expected: conn.expected,
        lineRate: null,
      };
      const report = await runChecks(ctx, [check], () => {}, null);
      expect(report.tests[0].status).toBe("FAIL");
      expect(report.tests[0].detail).toMatch(
        /^could not verify on this line \(the line damaged \d+ frame\(s\) to the host and \d+ request\(s\) were retried during this check\): no answer within the timeout$/,
      );
      expect(report.line.to_host.frames_damaged).toBeGreaterThan(0);
    } finally {
      dev.close();
      await peer.close();
    }
  });
});

describe("line quality arithmetic", () => {
  it("estimates the BER from the frame error rate and the mean frame length", () => {
    // 1000 frames of 100 bytes at BER 1e-4: (1 - 1e-4)^800 survive.
    const fer = 1 - (1 - 1e-4) ** 800;
    const damaged = Math.round(1000 * fer);
    const ber = estimateBer({ frames_ok: 1000 - damaged, frames_damaged: damaged, bytes: 100_000 });
    expect(ber).toBeGreaterThan(0.9e-4);
    expect(ber).toBeLessThan(1.1e-4);
    expect(estimateBer({ frames_ok: 0, frames_damaged: 0, bytes: 0 })).toBeNull();
    expect(estimateBer({ frames_ok: 0, frames_damaged: 5, bytes: 500 })).toBeNull();
  });

  it("parses --line-noise and refuses what is not a rate", () => {
    expect(parseNoise("1e-4")).toEqual({ ber: 1e-4 });
    expect(parseNoise("ber=1e-3,drop=1e-5,insert=2e-5,seed=7")).toEqual({
      ber: 1e-3,
      drop: 1e-5,
      insert: 2e-5,
      seed: 7,
    });
    expect(() => parseNoise("2")).toThrow(/ber must be a probability/);
    expect(() => parseNoise("ber=")).toThrow(/ber must be a probability/);
    expect(() => parseNoise("flip=1e-4")).toThrow(/unknown part/);
    expect(() => parseNoise("seed=-1")).toThrow(/seed must be a whole number/);
  });
});
