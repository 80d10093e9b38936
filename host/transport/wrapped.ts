// A transport that wraps another and changes what passes through it (faults,
// line noise): it opens and closes the inner one and forwards its closes;
// the wrapper decides what reaches its data listeners (emit) and the wire.
import type { Transport } from "./transport.ts";

export abstract class WrappedTransport implements Transport {
  private readonly listeners: ((b: Uint8Array) => void)[] = [];

  constructor(
    protected readonly inner: Transport,
    readonly name: string,
  ) {}

  open(): Promise<void> {
    return this.inner.open();
  }
  onData(l: (b: Uint8Array) => void): void {
    this.listeners.push(l);
  }
  onClose(l: (e?: Error) => void): void {
    this.inner.onClose(l);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  /** Hand received bytes to this transport's listeners. */
  protected emit(b: Uint8Array): void {
    for (const l of this.listeners) l(b);
  }
  abstract write(bytes: Uint8Array): Promise<void>;
}
