// host/trace.ts: the W3C traceparent text and the 26-byte binary context of
// TRACE frames convert both ways without loss, and everything the W3C spec
// says a receiver must ignore is refused (null), never thrown.
import { describe, it, expect } from "vitest";
import { randomBytes } from "node:crypto";
import {
  parseTraceparent,
  formatTraceparent,
  decodeTraceBytes,
  encodeTraceBytes,
  splitTraced,
  newTraceId,
  newSpanId,
  TRACE_BYTES,
} from "../../host/trace.ts";

// The example of the W3C Trace Context recommendation, section 3.2.
const SPEC = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe("W3C trace context, text and binary", () => {
  it("reads the specification's example and writes it back", () => {
    const c = parseTraceparent(SPEC)!;
    expect(c).toEqual({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 1 });
    expect(formatTraceparent(c)).toBe(SPEC);
  });

  it("lays out the binary form as version, trace-id, parent-id, flags", () => {
    const b = encodeTraceBytes(parseTraceparent(SPEC)!);
    expect(b.length).toBe(TRACE_BYTES);
    expect(Buffer.from(b).toString("hex")).toBe("00" + "4bf92f3577b34da6a3ce929d0e0e4736" + "00f067aa0ba902b7" + "01");
  });

  it("round-trips random contexts text -> binary -> text", () => {
    for (let i = 0; i < 200; i++) {
      const c = { traceId: newTraceId(), spanId: newSpanId(), traceFlags: randomBytes(1)[0] };
      const text = formatTraceparent(c);
      const back = decodeTraceBytes(encodeTraceBytes(parseTraceparent(text)!));
      expect(back).toEqual(c);
      expect(formatTraceparent(back!)).toBe(text);
    }
  });

  it("refuses what the specification says to ignore", () => {
    const bad: unknown[] = [
      undefined,
      null,
      42,
      "",
      SPEC.slice(0, 54),
      SPEC + "-",
      SPEC + "x",
      SPEC.replace(/^00/, "ff"), // version ff is invalid
      SPEC.toUpperCase(), // hex is lower case
      `00-${"0".repeat(32)}-00f067aa0ba902b7-01`, // all-zero trace-id
      `00-4bf92f3577b34da6a3ce929d0e0e4736-${"0".repeat(16)}-01`, // all-zero parent-id
      SPEC.replace(/-/g, "_"),
      SPEC.replace("4b", "4g"),
    ];
    for (const s of bad) expect(parseTraceparent(s), String(s)).toBeNull();
  });

  it("reads a future version by its version-00 prefix", () => {
    expect(parseTraceparent(SPEC.replace(/^00/, "01") + "-what-comes-next")?.traceId).toBe(
      "4bf92f3577b34da6a3ce929d0e0e4736",
    );
  });

  it("refuses binary contexts with zero ids, version ff or too few bytes", () => {
    const good = encodeTraceBytes(parseTraceparent(SPEC)!);
    const zeroTrace = Uint8Array.from(good);
    zeroTrace.fill(0, 1, 17);
    const zeroSpan = Uint8Array.from(good);
    zeroSpan.fill(0, 17, 25);
    const vff = Uint8Array.from(good);
    vff[0] = 0xff;
    for (const b of [zeroTrace, zeroSpan, vff, good.subarray(0, TRACE_BYTES - 1), new Uint8Array(0)])
      expect(decodeTraceBytes(b)).toBeNull();
    expect(() => encodeTraceBytes({ traceId: "xyz", spanId: "00f067aa0ba902b7", traceFlags: 1 })).toThrow(TypeError);
    expect(() => encodeTraceBytes({ traceId: "0".repeat(32), spanId: "00f067aa0ba902b7", traceFlags: 1 })).toThrow(
      /trace-id/,
    );
  });

  it("splits a TRACE payload into its context and the application bytes", () => {
    const body = Buffer.from("valve 3 open");
    const ctx = encodeTraceBytes(parseTraceparent(SPEC)!);
    const t = splitTraced(Buffer.concat([ctx, body]));
    expect(formatTraceparent(t.context!)).toBe(SPEC);
    expect(Buffer.from(t.body).toString()).toBe("valve 3 open");
    // An invalid context is still the first 26 bytes: stripped, not kept.
    const z = splitTraced(Buffer.concat([new Uint8Array(TRACE_BYTES), body]));
    expect(z.context).toBeNull();
    expect(Buffer.from(z.body).toString()).toBe("valve 3 open");
  });
});
