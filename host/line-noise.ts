// Seeded line noise for a byte stream: flips bits, drops bytes and inserts
// random ones at given rates, the way a long UART cable or an RS-485 bus
// damages what it carries. One LineNoise per direction; the same seed gives
// the same damage, so a failure found under noise replays exactly. Used by
// the noisy transport (host/transport/noisy.ts) and the protocol harness's
// byte-level wire (test/protocol/harness.ts).
import { rng } from "./rng.ts";

export interface NoiseOptions {
  /** Probability that any one bit is flipped (bit error rate). */
  ber?: number;
  /** Probability that a byte is lost. */
  drop?: number;
  /** Probability that a random byte is inserted before a byte. */
  insert?: number;
  seed?: number;
}

export interface NoiseStats {
  bytes: number;
  flipped: number;
  dropped: number;
  inserted: number;
}

export class LineNoise {
  readonly stats: NoiseStats = { bytes: 0, flipped: 0, dropped: 0, inserted: 0 };
  private readonly next: () => number;
  constructor(readonly opts: NoiseOptions = {}) {
    for (const k of ["ber", "drop", "insert"] as const) {
      const v = opts[k];
      if (v !== undefined && !(v >= 0 && v <= 1))
        throw new RangeError(`LineNoise: ${k} must be a probability in [0, 1] (got ${v})`);
    }
    this.next = rng(opts.seed ?? 1);
  }

  /** A uniform number in [0, 1). */
  private p(): number {
    return this.next() / 4294967296;
  }

  /** The bytes as the far end receives them. */
  apply(bytes: Uint8Array): Uint8Array {
    const { ber = 0, drop = 0, insert = 0 } = this.opts;
    if (!ber && !drop && !insert) {
      this.stats.bytes += bytes.length;
      return bytes;
    }
    const out: number[] = [];
    for (let b of bytes) {
      this.stats.bytes++;
      if (insert && this.p() < insert) {
        out.push(this.next() & 0xff);
        this.stats.inserted++;
      }
      if (drop && this.p() < drop) {
        this.stats.dropped++;
        continue;
      }
      if (ber) {
        for (let bit = 0; bit < 8; bit++) {
          if (this.p() < ber) {
            b ^= 1 << bit;
            this.stats.flipped++;
          }
        }
      }
      out.push(b);
    }
    return Uint8Array.from(out);
  }
}
