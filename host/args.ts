// Argument checks for the host API, before anything reaches the core's
// memory. The core takes its arguments as i32 and keeps the low byte of a
// channel, QoS or codec, so channel 300 would travel as channel 44 and QoS
// 258 as QoS 2; and bytes the host copies into linear memory land at fixed
// addresses with the core's own data beyond them. So every number is
// checked for its range and every byte argument for its type and length
// first, and a bad one is a QnError (ERR_ARG, ERR_OVERSIZE), never a
// wrapped value or bytes written past their area.
import { QnError, Status } from "./status.ts";

/** An integer in [lo, hi]. */
export function intArg(v: unknown, lo: number, hi: number, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) {
    throw new QnError(
      Status.ERR_ARG,
      `${what} must be an integer ${lo}..${hi}, not ${typeof v === "number" ? v : typeof v}`,
    );
  }
  return v;
}

/** A byte value: channel, codec, frame type, flags. */
export const byteArg = (v: unknown, what: string): number => intArg(v, 0, 255, what);

/** A Uint8Array of at most `max` bytes. */
export function bytesArg(v: unknown, max: number, what: string): Uint8Array {
  if (!(v instanceof Uint8Array))
    throw new QnError(
      Status.ERR_ARG,
      `${what} must be a Uint8Array (or Buffer), not ${v === null ? "null" : typeof v}`,
    );
  if (v.length > max) throw new QnError(Status.ERR_OVERSIZE, `${what} of ${v.length} bytes > ${max}`);
  return v;
}

/** A duration or time in milliseconds: finite and > 0. */
export function msArg(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
    throw new QnError(Status.ERR_ARG, `${what} must be a positive number of milliseconds, not ${String(v)}`);
  return v;
}

/** The header fields of a frame the host asks the core to build (type
 *  always; flags, codec, channel and packet when given). */
export function frameFieldArgs(
  h: { type: unknown; flags?: unknown; codec?: unknown; channel?: unknown; packet?: unknown },
  what: string,
): void {
  // Straight-line, no loop over keys: it runs on every frame encoded.
  byteArg(h.type, `${what}: type`);
  if (h.flags !== undefined) byteArg(h.flags, `${what}: flags`);
  if (h.codec !== undefined) byteArg(h.codec, `${what}: codec`);
  if (h.channel !== undefined) byteArg(h.channel, `${what}: channel`);
  if (h.packet !== undefined) intArg(h.packet, 0, 0xffffffff, `${what}: packet`);
}
