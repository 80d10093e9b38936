// Wraps a transport and injects faults frame by frame (frames split at the
// 0x00 delimiter): drop or duplicate what the host writes, or cut the link
// both ways for a while. The selftest uses it to put a real target through
// losses it cannot otherwise be made to see.
import type { Transport } from "./transport.ts";
import { WrappedTransport } from "./wrapped.ts";

export interface InjectedFaults {
  drop?: number;
  duplicate?: number;
  random?: () => number;
}

export class FaultyTransport extends WrappedTransport {
  faults: InjectedFaults = {};
  /** While true nothing passes either way (a cable pulled). */
  cut = false;
  stats = { frames: 0, dropped: 0, duplicated: 0, cutBytes: 0 };
  private partial: number[] = [];
  constructor(inner: Transport) {
    super(inner, inner.name);
    inner.onData((b) => {
      if (this.cut) {
        this.stats.cutBytes += b.length;
        return;
      }
      this.emit(b);
    });
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.cut) {
      this.stats.cutBytes += bytes.length;
      this.partial = [];
      return;
    }
    const f = this.faults;
    if (!f.drop && !f.duplicate) return this.inner.write(bytes);
    const rnd = f.random ?? Math.random;
    const out: number[] = [];
    for (const b of bytes) {
      this.partial.push(b);
      if (b !== 0) continue;
      const frame = this.partial;
      this.partial = [];
      this.stats.frames++;
      if (f.drop && rnd() < f.drop) {
        this.stats.dropped++;
        continue;
      }
      out.push(...frame);
      if (f.duplicate && rnd() < f.duplicate) {
        out.push(...frame);
        this.stats.duplicated++;
      }
    }
    if (out.length) await this.inner.write(Uint8Array.from(out));
  }
}
