// The host end of a QN link: a core instance (the same qn.wasm as the
// device) plus a transport. It pumps bytes both ways, matches replies to
// requests by packet id, and retries a request whose reply is lost or
// garbled until its timeout runs out (then ERR_TIMEOUT, never a hang).
import { QnCore, loadCore } from "./core.ts";
import { QnError, Status } from "./status.ts";
import { nowUs } from "./clock.ts";
import { flags, Prio, type Frame } from "./frame.ts";
import type { Transport } from "./transport/transport.ts";

export interface RequestOptions {
  codec?: number;
  payload?: Uint8Array;
  prio?: number;
  channel?: number;
  /** Time for one attempt, ms. */
  attemptMs?: number;
  /** Total time before ERR_TIMEOUT, ms. */
  timeoutMs?: number;
}

interface Pending { resolve: (f: Frame) => void; reject: (e: Error) => void }

export class Peer {
  readonly core: QnCore;
  private pending = new Map<number, Pending>();
  private frameListeners: ((f: Frame) => void)[] = [];
  private writing: Promise<void> = Promise.resolve();
  private linkError?: Error;
  /** Requests resent after a lost or garbled reply. */
  retries = 0;

  /** Default time for one attempt of a request, ms. */
  readonly attemptMs: number;

  constructor(readonly transport: Transport, opts: { wasmPath?: string; attemptMs?: number } = {}) {
    this.core = loadCore({ wasmPath: opts.wasmPath });
    this.attemptMs = opts.attemptMs ?? 500;
    transport.onData((b) => this.receive(b));
    transport.onClose((err) => {
      this.linkError = err ?? new QnError(Status.ERR_IO, `${transport.name}: link closed`);
      for (const p of this.pending.values()) p.reject(this.linkError);
      this.pending.clear();
    });
  }

  onFrame(l: (f: Frame) => void): void { this.frameListeners.push(l); }

  private receive(bytes: Uint8Array): void {
    this.core.tick(nowUs());
    this.core.rx(bytes);
    for (let f; (f = this.core.inboxPop()); ) {
      const p = this.pending.get(f.packet);
      if (p && f.type !== 0x10) {
        this.pending.delete(f.packet);
        p.resolve(f);
      } else {
        for (const l of this.frameListeners) l(f);
      }
    }
    this.flush();
  }

  /** Write every byte the core has queued, in order. */
  flush(): Promise<void> {
    const bytes = this.core.pull();
    if (bytes.length) {
      this.writing = this.writing.then(() => this.transport.write(bytes)).catch((e) => {
        this.linkError = e;
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      });
    }
    return this.writing;
  }

  /** Queue a frame and write it; returns its packet id. */
  send(type: number, o: RequestOptions & { packet?: number; qos?: number } = {}): number {
    if (this.linkError) throw this.linkError;
    this.core.tick(nowUs());
    const packet = this.core.send({ type, flags: flags(o.prio ?? Prio.CONTROL, o.qos ?? 0), codec: o.codec ?? 0, channel: o.channel ?? 0, packet: o.packet, payload: o.payload });
    this.flush();
    return packet;
  }

  /** Send a request and wait for the reply with its packet id. */
  async request(type: number, o: RequestOptions = {}): Promise<Frame> {
    const attemptMs = o.attemptMs ?? this.attemptMs;
    const deadline = Date.now() + (o.timeoutMs ?? 3000);
    const packet = this.core.x.qn_next_packet() >>> 0;
    let attempt = 0;
    for (;;) {
      if (this.linkError) throw this.linkError;
      const reply = new Promise<Frame>((resolve, reject) => this.pending.set(packet, { resolve, reject }));
      if (attempt > 0) this.retries++;
      try {
        this.send(type, { ...o, packet });
      } catch (e) {
        this.pending.delete(packet);
        throw e;
      }
      attempt++;
      const left = deadline - Date.now();
      const wait = Math.max(1, Math.min(attemptMs, left));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<null>((r) => { timer = setTimeout(() => r(null), wait); });
      const got = await Promise.race([reply, timeout]).finally(() => clearTimeout(timer));
      if (got) return got;
      this.pending.delete(packet);
      if (Date.now() >= deadline) {
        throw new QnError(Status.ERR_TIMEOUT, `no answer from ${this.transport.name} to frame type 0x${type.toString(16)} after ${attempt} attempt(s)`);
      }
    }
  }

  async close(): Promise<void> {
    for (const p of this.pending.values()) p.reject(new QnError(Status.ERR_IO, "peer closed"));
    this.pending.clear();
    await this.transport.close();
  }
}
