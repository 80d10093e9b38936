// Exactly-once through a power cut at every flash operation: a QoS 2 run
// in both directions over journals small enough to compact every few
// messages (two sizes, so the cuts meet compactions in different places), cut once per run at flash operation k (for every k the clean
// run performs), the operation either never happening or torn half way.
// After the reboot the run goes on to the end, and then each side has
// received every message once, in order, and its journalled delivery count
// and digest agree with what its application took.
import { describe, it, expect } from "vitest";
import { Link, type End } from "./harness.ts";
import { MemoryStorage } from "../../host/storage.ts";
import { crc32c } from "../../tools/crc32c.mjs";
import { QosStat } from "../../host/abi.ts";

const MESSAGES = 100;

/** The delivery digest PROTOCOL.md section 7 defines, over what an
 *  application took: crc32c(previous digest LE || packet id LE || payload). */
function digestOf(got: End["got"]): number {
  let d = 0;
  for (const g of got) {
    const b = Buffer.alloc(8 + g.payload.length);
    b.writeUInt32LE(d, 0);
    b.writeUInt32LE(g.packet, 4);
    g.payload.copy(b, 8);
    d = crc32c(b) >>> 0;
  }
  return d;
}

interface Outcome {
  ops: number;
  cuts: number;
  up: string[];
  down: string[];
}

function run(victim: "device" | "host", region: number, cutAtOp: number, mode: "before" | "torn"): Outcome {
  // Both journals small, so they compact every few messages; the victim's flash is cut.
  const l = new Link(
    { role: 1, auth: 1, storage: new MemoryStorage(region) },
    { role: 0, auth: 1, storage: new MemoryStorage(region) },
  );
  l.connect();
  const dev = victim === "device" ? l.b : l.a;
  const storage = dev.storage;
  // The device's application takes a message when its pop returns with the
  // power still on: a pop cut by the power never reached it.
  dev.drain = dev.drainWhilePowered;
  storage.ops = 0;
  storage.cutAtOp = cutAtOp;
  storage.cutMode = mode;
  let cuts = 0,
    up = 0,
    down = 0;
  const done = () => l.a.got.length >= MESSAGES && l.b.got.length >= MESSAGES;
  // Every message through, then 300 ms more for the last acknowledgements
  // (and their flash operations, which a cut may hit too).
  let settle = 300;
  for (let t = 0; t < 30_000 && settle > 0; t++) {
    if (done()) settle--;
    if (up < MESSAGES && l.b.publish(1, 2, Buffer.from(`up${up}`)) > 0 && !l.b.storage.powerLost) up++;
    if (down < MESSAGES && l.a.publish(2, 2, Buffer.from(`down${down}`)) > 0 && !l.a.storage.powerLost) down++;
    l.step();
    if (storage.powerLost) {
      const ops = storage.ops;
      storage.cutAtOp = Infinity;
      dev.reset();
      storage.ops = ops;
      cuts++;
    }
  }
  const at = `${victim} cut at op ${cutAtOp} (${mode})`;
  expect(dev.core.qosStat(QosStat.DIGEST), `${at}: digest`).toBe(digestOf(dev.got));
  expect(dev.core.qosStat(QosStat.Q2_DELIVERED), `${at}: delivery mark`).toBe(dev.got.at(-1)?.packet ?? 0);
  return {
    ops: storage.ops,
    cuts,
    up: l.a.got.map((g) => g.payload.toString()),
    down: l.b.got.map((g) => g.payload.toString()),
  };
}

describe("power cut at every flash operation of a QoS 2 run", () => {
  for (const [victim, region] of [
    ["device", 4096],
    ["host", 4096],
    ["device", 5120],
    ["host", 5120],
  ] as const) {
    it(`${victim}, ${region}-byte journals: loses and doubles nothing, wherever the cut lands`, () => {
      const want = (tag: string) => Array.from({ length: MESSAGES }, (_, i) => `${tag}${i}`);
      const clean = run(victim, region, Infinity, "torn");
      expect(clean.cuts).toBe(0);
      expect(clean.up).toEqual(want("up"));
      expect(clean.down).toEqual(want("down"));
      let runs = 0;
      for (const mode of ["before", "torn"] as const) {
        for (let k = 0; k < clean.ops; k++) {
          const r = run(victim, region, k, mode);
          expect(r.cuts, `${victim} cut at op ${k} (${mode}) did not happen`).toBe(1);
          expect(r.up, `${victim} cut at op ${k} (${mode}): device to host`).toEqual(want("up"));
          expect(r.down, `${victim} cut at op ${k} (${mode}): host to device`).toEqual(want("down"));
          runs++;
        }
      }
      console.log(
        `power-cut sweep (${victim}, ${region}-byte journals): ${clean.ops} flash operations in a ${MESSAGES}+${MESSAGES}-message QoS 2 run; ${runs} runs, each cut once, nothing lost or doubled`,
      );
    }, 240_000);
  }
});
