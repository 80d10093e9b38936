// A new connection to a device's TCP / TLS listener, before it may take the
// device's link. Anyone who can reach the port can connect (and with TLS
// and no peer_name, anyone holding a certificate from the CA), so a
// connection proves the device's key first: the candidate sends a HELLO
// with a fresh nonce from a core of its own, and wins once the WELCOME's
// proof checks out (the core then has a session up). Until then the link
// the device had stays up and keeps moving messages.
//
// What a candidate costs is bounded: one core instance (the module is
// compiled once per process), a copy of the journal in memory (no file is
// opened or created for it), CANDIDATE_BYTES of input and a deadline; the
// device link keeps at most a few at a time (device-link.ts).
//
// Its core reads a snapshot of the link's journal so that its HELLO
// announces the same QoS 2 numbering epoch and bases as the link's own
// core: a device applies them on HELLO, and a stranger's epoch would make
// it forget which of our commands it already has. The candidate never sends
// its CONFIRM, so the device's session stays unconfirmed (nothing is resent
// to a core that is about to be dropped); the link's own core then does a
// handshake of its own on the same connection (HandedOver), and the
// candidate's core is dropped.
import { QnCore, sharedModule } from "../host/core.ts";
import { MemoryStorage } from "../host/storage.ts";
import { configureClient, type SessionOptions } from "../host/peer.ts";
import { nowUs } from "../host/clock.ts";
import { statusName } from "../host/status.ts";
import { Counter } from "../host/frame.ts";
import { SessionStat } from "../host/abi.ts";
import type { Transport } from "../host/transport/transport.ts";

/** Bytes a connection may send before it has proved the key. A WELCOME is
 *  under 200; a connection sending this much without one is not a device
 *  answering a HELLO. */
export const CANDIDATE_BYTES = 4096;

export interface CandidateOptions {
  session: SessionOptions;
  /** The link's journal as it is now (its size is the region's). */
  journal: Uint8Array;
  /** Time for the whole handshake, ms. */
  timeoutMs: number;
}

type State = "pending" | "handed" | "failed";

export class Candidate {
  /** Resolves with the connection, ready for the link's own core, once the
   *  peer has proved the key; rejects with why it did not. */
  readonly authenticated: Promise<Transport>;
  private state: State = "pending";
  private core?: QnCore;
  private bytes = 0;
  private timer?: NodeJS.Timeout;
  private successor?: HandedOver;
  private win!: (t: Transport) => void;
  private lose!: (e: Error) => void;

  constructor(
    readonly transport: Transport,
    opts: CandidateOptions,
  ) {
    this.authenticated = new Promise<Transport>((resolve, reject) => {
      this.win = resolve;
      this.lose = reject;
    });
    // The connection's only reader: bytes go to the candidate's core, then
    // (once it won) to the link through HandedOver.
    transport.onData((b) => this.receive(b));
    transport.onClose((e) => {
      if (this.state === "pending") this.fail(`closed before the handshake${e ? ` (${e.message})` : ""}`);
    });
    try {
      const core = new QnCore(sharedModule(), {
        storage: new MemoryStorage(opts.journal.length, Uint8Array.from(opts.journal)),
      });
      core.init();
      configureClient(core, opts.session);
      core.journalOpen(opts.journal.length);
      core.tick(nowUs());
      core.connect();
      this.core = core;
      const hello = core.pull();
      this.transport.write(hello).catch((e: Error) => this.fail(`cannot send the HELLO: ${e.message}`));
    } catch (e) {
      this.fail(`cannot start the handshake: ${(e as Error).message}`);
      return;
    }
    this.timer = setTimeout(() => this.fail(`no handshake within ${opts.timeoutMs} ms`), opts.timeoutMs);
  }

  /** Give up on this connection (a newer one needs the room, the link stops). */
  abandon(reason: string): void {
    this.fail(reason);
  }

  private receive(b: Uint8Array): void {
    if (this.state === "handed") {
      this.successor!.push(b);
      return;
    }
    if (this.state !== "pending") return;
    this.bytes += b.length;
    if (this.bytes > CANDIDATE_BYTES) {
      this.fail(`${this.bytes} bytes without completing the handshake`);
      return;
    }
    const core = this.core!;
    // Frame by frame (each ends at a 0x00), so that what follows the
    // WELCOME in the same read goes to the link's core, not this one.
    let start = 0;
    while (start < b.length) {
      const end = b.indexOf(0, start);
      const piece = b.subarray(start, end < 0 ? b.length : end + 1);
      start += piece.length;
      try {
        core.tick(nowUs());
        core.rx(piece);
        while (core.inboxPop()) {
          /* nothing is delivered before the link takes over */
        }
      } catch (e) {
        this.fail(`its bytes stopped the handshake: ${(e as Error).message}`);
        return;
      }
      if (core.sessionUp()) {
        this.handOver(b.subarray(start));
        return;
      }
      if (core.counter(Counter.AUTH_FAIL) > 0) {
        this.fail("its proof does not match the device's key");
        return;
      }
      const refused = Number(core.sessionStat(SessionStat.REFUSAL));
      if (refused < 0) {
        this.fail(`it refused our HELLO with ${statusName(refused)}`);
        return;
      }
    }
  }

  private handOver(rest: Uint8Array): void {
    this.state = "handed";
    clearTimeout(this.timer);
    // The CONFIRM the core queued is never pulled: the core goes with it.
    this.core = undefined;
    this.successor = new HandedOver(this.transport);
    if (rest.length) this.successor.push(Uint8Array.from(rest));
    this.win(this.successor);
  }

  private fail(reason: string): void {
    if (this.state !== "pending") return;
    this.state = "failed";
    clearTimeout(this.timer);
    this.core = undefined;
    void this.transport.close().catch(() => {});
    this.lose(new Error(`connection ${this.transport.name} refused: ${reason}`));
  }
}

/** The connection after its candidate won: the same socket, read by the
 *  link. Bytes that arrived before the link's reader was wired wait and are
 *  handed over first, in order. pause() / resume() reach the socket (the
 *  gateway's backpressure, gate-transport.ts). */
export class HandedOver implements Transport {
  private listeners: ((b: Uint8Array) => void)[] = [];
  private held: Uint8Array[] = [];
  private flushing = false;
  constructor(private readonly inner: Transport) {}

  get name(): string {
    return this.inner.name;
  }
  open(): Promise<void> {
    return this.inner.open();
  }
  write(bytes: Uint8Array): Promise<void> {
    return this.inner.write(bytes);
  }
  onClose(l: (e?: Error) => void): void {
    this.inner.onClose(l);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  pause(): void {
    (this.inner as { pause?: () => void }).pause?.();
  }
  resume(): void {
    (this.inner as { resume?: () => void }).resume?.();
  }

  onData(l: (b: Uint8Array) => void): void {
    this.listeners.push(l);
    // The link wires its whole reader (gate, then peer) in one turn: what
    // waited is handed over after that turn, not to half of it.
    if (this.held.length && !this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
  }

  push(b: Uint8Array): void {
    if (!this.listeners.length || this.held.length) {
      this.held.push(b);
      return;
    }
    for (const l of this.listeners) l(b);
  }

  private flush(): void {
    this.flushing = false;
    for (const b of this.held.splice(0)) for (const l of this.listeners) l(b);
  }
}
