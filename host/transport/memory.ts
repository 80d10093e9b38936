// An in-memory byte link between two endpoints, delivered asynchronously
// (as a real link is) with optional fault injection: drop, duplicate and
// corrupt chunks, or cut the link. Used by the in-process target and tests.
import { TransportError, type Transport } from "./transport.ts";

export interface Faults {
  /** Probability that a written chunk is lost. */
  drop?: number;
  /** Probability that a written chunk is delivered twice. */
  duplicate?: number;
  /** Probability that one bit of a written chunk is flipped. */
  corrupt?: number;
  /** Deterministic random source in [0, 1). */
  random?: () => number;
}

class End implements Transport {
  peer?: End;
  private dataListeners: ((b: Uint8Array) => void)[] = [];
  private closeListeners: ((e?: Error) => void)[] = [];
  closed = false;
  constructor(
    readonly name: string,
    private faults: Faults,
  ) {}

  async open(): Promise<void> {}

  async write(bytes: Uint8Array): Promise<void> {
    if (this.closed || !this.peer || this.peer.closed)
      throw new TransportError(`${this.name}: link cut`, { disconnected: true });
    const f = this.faults,
      rnd = f.random ?? Math.random;
    if (f.drop && rnd() < f.drop) return;
    const b = Uint8Array.from(bytes);
    if (f.corrupt && rnd() < f.corrupt && b.length) b[Math.floor(rnd() * b.length)] ^= 1 << Math.floor(rnd() * 8);
    const peer = this.peer;
    const times = f.duplicate && rnd() < f.duplicate ? 2 : 1;
    for (let i = 0; i < times; i++)
      setImmediate(() => {
        if (!peer.closed) peer.deliver(b);
      });
  }

  deliver(b: Uint8Array): void {
    for (const l of this.dataListeners) l(b);
  }
  onData(l: (b: Uint8Array) => void): void {
    this.dataListeners.push(l);
  }
  onClose(l: (e?: Error) => void): void {
    this.closeListeners.push(l);
  }

  cut(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.closeListeners) l(err);
  }

  async close(): Promise<void> {
    this.cut();
    this.peer?.cut(new TransportError(`${this.peer.name}: peer closed`, { disconnected: true }));
  }
}

/** Two connected endpoints: what `a` writes, `b` receives, and back. */
export function memoryLink(faults: Faults = {}): { a: Transport; b: Transport } {
  const a = new End("mem:a", faults),
    b = new End("mem:b", faults);
  a.peer = b;
  b.peer = a;
  return { a, b };
}
