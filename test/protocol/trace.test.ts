// The TRACE flag: a message published with a binary W3C trace context
// arrives with the flag set and the context ahead of its payload, at every
// QoS and with frame MACs; the core refuses a context it cannot hold and a
// TRACE frame too short to carry one.
import { describe, it, expect } from "vitest";
import { Link } from "./harness.ts";
import { loadCore } from "../../host/core.ts";
import { Status } from "../../host/status.ts";
import { Counter, Flag, FrameType, Prio, TRACE_BYTES } from "../../host/frame.ts";
import { rawFrame, toWire } from "../core/jsframe.ts";
import { raw } from "../support/raw-core.ts";

const ctx = Uint8Array.from({ length: TRACE_BYTES }, (_, i) => (i === 0 ? 0 : i === 25 ? 1 : (i * 37 + 5) & 0xff));

describe("trace context in frames", () => {
  for (const auth of [0, 2]) {
    it(`arrives with the TRACE flag and the context first (QoS 0/1/2, auth ${auth})`, () => {
      const l = new Link({ role: 1, auth }, { role: 0, auth });
      l.connect();
      const body = Buffer.from("pump-17 pressure 4.2 bar");
      for (const qos of [0, 1, 2]) expect(l.b.publishTraced(3, qos, ctx, body)).toBeGreaterThanOrEqual(0);
      expect(l.b.publish(4, 1, body)).toBeGreaterThan(0);
      l.run(2000, () => l.a.got.length === 4);
      const traced = l.a.got.filter((g) => g.channel === 3);
      expect(traced.map((g) => g.qos).sort()).toEqual([0, 1, 2]);
      for (const g of traced) {
        expect(g.flags & Flag.TRACE).toBe(Flag.TRACE);
        expect([...g.payload.subarray(0, TRACE_BYTES)]).toEqual([...ctx]);
        expect(g.payload.subarray(TRACE_BYTES).toString()).toBe(body.toString());
      }
      const plain = l.a.got.find((g) => g.channel === 4)!;
      expect(plain.flags & Flag.TRACE).toBe(0);
    });
  }

  it("refuses a traced publish shorter than the context", () => {
    const l = new Link({ role: 1, auth: 0 }, { role: 0, auth: 0 });
    l.connect();
    const x = raw(l.b.core).x;
    expect(Number(x.qn_publish_traced(3, 0, 2, 0, TRACE_BYTES - 1))).toBe(Status.ERR_ARG);
  });

  it("rejects a TRACE frame whose payload cannot hold the context (ERR_TRUNCATED)", () => {
    const core = loadCore();
    core.init();
    const before = core.counter(Counter.ERR_TRUNCATED);
    expect(
      core.rx(
        toWire(rawFrame({ type: FrameType.DATA, flags: Flag.TRACE | Prio.BULK }, new Uint8Array(TRACE_BYTES - 1))),
      ),
    ).toBe(0);
    expect(core.lastError()).toBe(Status.ERR_TRUNCATED);
    expect(core.counter(Counter.ERR_TRUNCATED)).toBe(before + 1);
    expect(
      core.rx(toWire(rawFrame({ type: FrameType.DATA, flags: Flag.TRACE | Prio.BULK }, new Uint8Array(TRACE_BYTES)))),
    ).toBe(1);
  });
});
