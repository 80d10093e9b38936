// The transport a device link's Peer talks through: it wraps the real one
// (serial port, TCP / TLS socket) for the gateway's backpressure: while the
// broker queue is full, pause() stops reading (TCP flow control then holds
// the device back) and holds what already arrived until resume(). It also
// hands received bytes over in pieces the core's inbox can hold.
// (Durability is the Peer's: its outputBarrier waits for the spool's flush
// before any acknowledgement goes to the device; see device-link.ts.)
import type { Transport } from "../host/transport/transport.ts";
import type { TcpTransport } from "../host/transport/tcp.ts";

/** Sits between a Peer and the real transport: holds received bytes while
 *  paused and hands them over in inbox-sized pieces. */
export class GateTransport implements Transport {
  private listeners: ((b: Uint8Array) => void)[] = [];
  private held: Uint8Array[] = [];
  paused = false;
  /** Frames the Peer's core inbox holds (qn_inbox_capacity): the device
   *  link sets it once its Peer exists; no bytes arrive before that. */
  inboxFrames = 0;
  constructor(readonly inner: Transport) {
    inner.onData((b) => {
      if (this.paused) this.held.push(b);
      else this.deliver(b);
    });
  }
  /** Hand a chunk to the Peer at most inboxFrames frames at a time (split
   *  after a 0x00 delimiter): the core's inbox holds that many, a TCP read
   *  can carry many more, and the Peer empties the inbox after each call.
   *  When a piece brings frames, the Peer holds what comes after it until
   *  they are committed (marked delivered once a spool fsync covers them),
   *  so each such piece waits for a spool fsync of its own; a piece's
   *  acknowledgements leave once its journal and spool are fsync'd
   *  (Peer.flush). Nothing here fsyncs. */
  private deliver(b: Uint8Array): void {
    let start = 0,
      frames = 0;
    for (let i = b.indexOf(0); i >= 0 && i < b.length - 1; i = b.indexOf(0, i + 1)) {
      if (i === start) {
        start = i + 1;
        continue;
      } // idle delimiter
      if (++frames < this.inboxFrames) continue;
      const piece = b.subarray(start, i + 1);
      start = i + 1;
      frames = 0;
      for (const l of this.listeners) l(piece);
    }
    if (start < b.length) {
      const rest = b.subarray(start);
      for (const l of this.listeners) l(rest);
    }
  }

  get name(): string {
    return this.inner.name;
  }
  open(): Promise<void> {
    return this.inner.open();
  }
  write(bytes: Uint8Array): Promise<void> {
    return this.inner.write(bytes);
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
  pause(): void {
    this.paused = true;
    (this.inner as Partial<TcpTransport>).pause?.();
  }
  resume(): void {
    this.paused = false;
    (this.inner as Partial<TcpTransport>).resume?.();
    const held = this.held;
    this.held = [];
    for (const b of held) this.deliver(b);
  }
}
