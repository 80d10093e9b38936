// The transport a device link's Peer talks through: it wraps the real one
// (serial port, TCP / TLS socket) for two reasons of the gateway's own.
// Durability: write() waits for the MQTT spool's fsync before any byte
// goes to the device, so no acknowledgement leaves before the message it
// acknowledges is on disk. Backpressure: while the broker queue is full, pause() stops
// reading (TCP flow control then holds the device back) and holds what
// already arrived until resume().
import type { Transport } from "../host/transport/transport.ts";
import type { TcpTransport } from "../host/transport/tcp.ts";
import type { Spool } from "./spool.ts";

/** Frames the core's inbox holds (assembly/config.ts INBOX_SLOTS). */
const INBOX_FRAMES = 8;

/** Sits between a Peer and the real transport: fsyncs the spool before any
 *  byte goes to the device, and holds received bytes while paused. */
export class GateTransport implements Transport {
  private listeners: ((b: Uint8Array) => void)[] = [];
  private held: Uint8Array[] = [];
  paused = false;
  constructor(readonly inner: Transport, private spool: Spool) {
    inner.onData((b) => {
      if (this.paused) this.held.push(b);
      else this.deliver(b);
    });
  }
  /** Hand a chunk to the Peer at most INBOX_FRAMES frames at a time (split
   *  after a 0x00 delimiter): the core's inbox holds 8 frames, a TCP read
   *  can carry many more, and the Peer empties the inbox after each call.
   *  Each piece costs one spool fsync (before its messages are marked
   *  delivered), and all pieces go in this one turn, so their
   *  acknowledgements leave after one journal fsync (Peer.flush). */
  private deliver(b: Uint8Array): void {
    let start = 0, frames = 0;
    for (let i = b.indexOf(0); i >= 0 && i < b.length - 1; i = b.indexOf(0, i + 1)) {
      if (i === start) { start = i + 1; continue; } // idle delimiter
      if (++frames < INBOX_FRAMES) continue;
      const piece = b.subarray(start, i + 1);
      start = i + 1;
      frames = 0;
      for (const l of this.listeners) l(piece);
    }
    if (start < b.length) { const rest = b.subarray(start); for (const l of this.listeners) l(rest); }
  }

  get name(): string { return this.inner.name; }
  open(): Promise<void> { return this.inner.open(); }
  async write(bytes: Uint8Array): Promise<void> {
    await this.spool.syncAsync();
    return this.inner.write(bytes);
  }
  onData(l: (b: Uint8Array) => void): void { this.listeners.push(l); }
  onClose(l: (e?: Error) => void): void { this.inner.onClose(l); }
  close(): Promise<void> { return this.inner.close(); }
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
