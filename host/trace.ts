// W3C trace context in the two shapes QN carries it: the `traceparent`
// text of HTTP and MQTT 5 user properties, and the 26-byte binary form a
// TRACE frame's payload starts with (frame flag 0x40, docs/PROTOCOL.md):
//
//   0         1                          17               25        26
//   +---------+--------------------------+----------------+---------+
//   | version |  trace-id (16 bytes)     | parent-id (8)  |  flags  |
//   +---------+--------------------------+----------------+---------+
//
// The text form is `00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>`.
// Both parsers return null for anything the W3C spec says to ignore (bad
// length, version ff, all-zero ids, upper-case hex): a receiver then starts
// a new trace instead of following a broken one. No OpenTelemetry here, so
// the host side stays dependency-free; the ids are the same lower-case hex
// strings OpenTelemetry's SpanContext uses.
import { randomBytes } from "node:crypto";
import { TRACE_BYTES } from "./frame.ts";

export { TRACE_BYTES };

export interface TraceContext {
  /** 32 lower-case hex digits, not all zero. */
  traceId: string;
  /** 16 lower-case hex digits (the sender's span id), not all zero. */
  spanId: string;
  /** Bit 0: sampled. */
  traceFlags: number;
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ZERO_TRACE = "0".repeat(32),
  ZERO_SPAN = "0".repeat(16);

export function validIds(traceId: string, spanId: string): boolean {
  return TRACE_ID.test(traceId) && SPAN_ID.test(spanId) && traceId !== ZERO_TRACE && spanId !== ZERO_SPAN;
}

/** Parse a `traceparent` header value; null when it is not a valid one.
 *  A future version (01..fe) is read by its version-00 prefix, as the
 *  spec asks; version 00 must be exactly 55 characters. */
export function parseTraceparent(s: unknown): TraceContext | null {
  if (typeof s !== "string" || s.length < 55) return null;
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/.exec(s);
  if (!m || m[1] === "ff") return null;
  if (m[1] === "00" && s.length !== 55) return null;
  if (!validIds(m[2], m[3])) return null;
  return { traceId: m[2], spanId: m[3], traceFlags: parseInt(m[4], 16) };
}

export function formatTraceparent(c: TraceContext): string {
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/** The binary context at the start of `b` (at least TRACE_BYTES long);
 *  null when the bytes are not a valid context. */
export function decodeTraceBytes(b: Uint8Array): TraceContext | null {
  if (b.length < TRACE_BYTES || b[0] === 0xff) return null;
  const hex = Buffer.from(b.buffer, b.byteOffset, TRACE_BYTES).toString("hex");
  const traceId = hex.slice(2, 34),
    spanId = hex.slice(34, 50);
  if (!validIds(traceId, spanId)) return null;
  return { traceId, spanId, traceFlags: b[25] };
}

/** The 26-byte binary form (version 0). */
export function encodeTraceBytes(c: TraceContext): Uint8Array {
  if (!validIds(c.traceId, c.spanId))
    throw new TypeError(`not a valid trace context: trace-id "${c.traceId}", span-id "${c.spanId}"`);
  const out = new Uint8Array(TRACE_BYTES);
  out.set(Buffer.from(c.traceId, "hex"), 1);
  out.set(Buffer.from(c.spanId, "hex"), 17);
  out[25] = c.traceFlags & 0xff;
  return out;
}

/** Split the payload of a TRACE frame: the context (null when invalid)
 *  and the application payload after it. A payload too short to hold a
 *  context (the core already refuses such frames) is returned whole. */
export function splitTraced(payload: Uint8Array): { context: TraceContext | null; body: Uint8Array } {
  if (payload.length < TRACE_BYTES) return { context: null, body: payload };
  return { context: decodeTraceBytes(payload), body: payload.subarray(TRACE_BYTES) };
}

// Ids come from a pool of random bytes refilled 4 KiB at a time: one
// getrandom call per ~170 messages instead of two per message (the
// gateway makes ids for every uplink and downlink).
let pool = Buffer.alloc(0),
  at = 0;
function randomHex(n: number): string {
  if (at + n > pool.length) {
    pool = randomBytes(4096);
    at = 0;
  }
  const s = pool.toString("hex", at, at + n);
  at += n;
  return s;
}

/** Fresh random ids (for a trace the gateway starts itself). */
export function newTraceId(): string {
  for (;;) {
    const id = randomHex(16);
    if (id !== ZERO_TRACE) return id;
  }
}
export function newSpanId(): string {
  for (;;) {
    const id = randomHex(8);
    if (id !== ZERO_SPAN) return id;
  }
}
