// An independent JavaScript implementation of the QN wire format, used only
// by tests to cross-check the core (two implementations that agree on the
// PROTOCOL.md vectors can't share one misreading of the spec).
import { crc32c } from "../../tools/crc32c.mjs";

export interface Hdr {
  version?: number;
  type: number;
  flags?: number;
  codec?: number;
  channel?: number;
  session?: number;
  packet?: number;
  lsn?: number;
  time?: number;
}

export function rawFrame(h: Hdr, payload: Uint8Array, lengthOverride?: number): Uint8Array {
  const b = new Uint8Array(24 + payload.length + 4);
  const v = new DataView(b.buffer);
  b[0] = h.version ?? 2;
  b[1] = h.type;
  b[2] = h.flags ?? 0;
  b[3] = h.codec ?? 0;
  b[4] = h.channel ?? 0;
  b[5] = 0;
  v.setUint16(6, lengthOverride ?? payload.length, true);
  v.setUint32(8, h.session ?? 0, true);
  v.setUint32(12, h.packet ?? 0, true);
  v.setUint32(16, h.lsn ?? 0, true);
  v.setUint32(20, h.time ?? 0, true);
  b.set(payload, 24);
  v.setUint32(24 + payload.length, crc32c(b.subarray(0, 24 + payload.length)), true);
  return b;
}

export function cobs(raw: Uint8Array): Uint8Array {
  const out: number[] = [0];
  let codeAt = 0,
    code = 1;
  for (const x of raw) {
    if (x === 0) {
      out[codeAt] = code;
      codeAt = out.length;
      out.push(0);
      code = 1;
    } else {
      out.push(x);
      code++;
      if (code === 0xff) {
        out[codeAt] = code;
        codeAt = out.length;
        out.push(0);
        code = 1;
      }
    }
  }
  out[codeAt] = code;
  out.push(0);
  return Uint8Array.from(out);
}

/** The header goes on the wire inverted (PROTOCOL.md section 2): a copy of
 *  `raw` with its first 24 bytes XOR 0xFF. Its own inverse. */
export function flipHeader(raw: Uint8Array): Uint8Array {
  const b = Uint8Array.from(raw);
  for (let i = 0; i < Math.min(24, b.length); i++) b[i] ^= 0xff;
  return b;
}

/** A raw frame (header + payload + [MAC] + CRC) to its wire bytes. */
export function toWire(raw: Uint8Array): Uint8Array {
  return cobs(flipHeader(raw));
}

export function wire(h: Hdr, payload: Uint8Array): Uint8Array {
  return toWire(rawFrame(h, payload));
}

// The tests' random source is the host's (also used by the selftest).
export { rng } from "../../host/rng.ts";
