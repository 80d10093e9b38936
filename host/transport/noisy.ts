// Wraps a transport in line noise both ways (host/line-noise.ts): what this
// end writes and what it receives are damaged byte by byte, delimiters as
// much as anything else, with a seed per direction. A noisy serial cable
// between the host and an in-process device or a board.
import type { Transport } from "./transport.ts";
import { WrappedTransport } from "./wrapped.ts";
import { LineNoise, type NoiseOptions } from "../line-noise.ts";

export class NoisyTransport extends WrappedTransport {
  /** Damage to what this end writes (out) and receives (in). */
  readonly out: LineNoise;
  readonly in: LineNoise;
  constructor(inner: Transport, noise: NoiseOptions) {
    super(inner, `noisy:${inner.name}`);
    const seed = noise.seed ?? 1;
    this.out = new LineNoise({ ...noise, seed: seed * 2 + 1 });
    this.in = new LineNoise({ ...noise, seed: seed * 2 + 2 });
    inner.onData((b) => {
      const d = this.in.apply(b);
      if (d.length) this.emit(d);
    });
  }

  write(bytes: Uint8Array): Promise<void> {
    const d = this.out.apply(bytes);
    return d.length ? this.inner.write(d) : Promise.resolve();
  }
}
