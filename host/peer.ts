// The host end of a QN link: a core instance (the same qn.wasm as the
// device) plus a transport. It pumps bytes both ways, matches replies to
// requests by packet id, and retries a request whose reply is lost or
// garbled until its timeout runs out (then ERR_TIMEOUT, never a hang).
import { type QnCore, loadCore } from "./core.ts";
import { QnError, Status } from "./status.ts";
import { intArg, msArg } from "./args.ts";
import { nowUs } from "./clock.ts";
import { flags, FrameType, Prio, type Frame } from "./frame.ts";
import {
  AuthMode,
  Codec,
  ConfigKey,
  Counter,
  JournalStat,
  PRIO_CLASSES,
  Qos,
  QosStat,
  Role,
  SessionStat,
} from "./abi.ts";
import type { Transport } from "./transport/transport.ts";
import { messageOf, type Message } from "./message.ts";
import type { Storage } from "./storage.ts";
import { scheduler, type Task } from "./scheduler.ts";

/** The longest an idle, established session waits between runs of its
 *  timers, as a share of its heartbeat period: a ping goes out at most this
 *  late, well inside the peer's heartbeat_misses window. */
export const IDLE_SHARE = 4;
/** How often connect() looks at the handshake when nothing arrives (its
 *  timeout, the core's own handshake timer). */
const CONNECT_POLL_MS = 20;

/** When a core with a session up and nothing in flight next needs its
 *  timers run, ms (heartbeat_ms / IDLE_SHARE, at least `activeMs`); while it
 *  connects, has frames in flight or output waiting: `activeMs`. */
export function nextRunMs(core: QnCore, activeMs: number): number {
  if (!core.sessionUp() || core.qosStat(QosStat.IN_FLIGHT) !== 0 || core.txInFlight() !== 0) return activeMs;
  return Math.max(activeMs, Math.floor(core.getConfig(ConfigKey.HEARTBEAT_MS) / IDLE_SHARE));
}

/** How the host end of a link authenticates and times its session. */
export interface SessionOptions {
  /** AuthMode: NONE, HANDSHAKE (HMAC proofs) or FRAME_MAC (proofs and a
   *  MAC on every frame; the default). */
  auth?: number;
  /** The pre-shared key (1..32 bytes). */
  key?: Uint8Array;
  heartbeatMs?: number;
  heartbeatMisses?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  handshakeMs?: number;
  /** QoS 1/2 retransmission timeout before a round trip is measured, ms. */
  retransmitMs?: number;
  /** Bounds of the measured retransmission timeout, ms (assembly/rto.ts). */
  rtoMinMs?: number;
  rtoMaxMs?: number;
  /** How often the core's timers run while it connects or has frames in
   *  flight, ms (default 2); an idle session runs them per nextRunMs. */
  tickMs?: number;
}

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

interface Pending {
  resolve: (f: Frame) => void;
  reject: (e: Error) => void;
}

/** Make `core` a session client with `s` (role, auth mode, key, timings);
 *  throws a QnError naming the setting the core refused. */
export function configureClient(core: QnCore, s: SessionOptions): void {
  const set = (k: ConfigKey, v: number | undefined) => {
    if (v !== undefined) core.setConfig(k, v);
  };
  set(ConfigKey.ROLE, Role.CLIENT);
  set(ConfigKey.AUTH, s.auth ?? AuthMode.FRAME_MAC);
  set(ConfigKey.HEARTBEAT_MS, s.heartbeatMs);
  set(ConfigKey.HEARTBEAT_MISS, s.heartbeatMisses);
  // Cap before base: the core refuses a base above the cap.
  if (s.backoffCapMs !== undefined && s.backoffCapMs < core.getConfig(ConfigKey.BACKOFF_BASE_MS))
    set(ConfigKey.BACKOFF_BASE_MS, s.backoffBaseMs ?? 1);
  set(ConfigKey.BACKOFF_CAP_MS, s.backoffCapMs);
  set(ConfigKey.BACKOFF_BASE_MS, s.backoffBaseMs);
  set(ConfigKey.HANDSHAKE_MS, s.handshakeMs);
  set(ConfigKey.RETX_MS, s.retransmitMs);
  // Ceiling before floor when the floor rises above the current ceiling.
  if (s.rtoMinMs !== undefined && s.rtoMinMs > core.getConfig(ConfigKey.RTO_MAX_MS)) {
    set(ConfigKey.RTO_MAX_MS, s.rtoMaxMs);
    set(ConfigKey.RTO_MIN_MS, s.rtoMinMs);
  } else {
    set(ConfigKey.RTO_MIN_MS, s.rtoMinMs);
    set(ConfigKey.RTO_MAX_MS, s.rtoMaxMs);
  }
  if (s.key) core.setKey(s.key);
}

export class Peer implements Task {
  readonly core: QnCore;
  private pending = new Map<number, Pending>();
  private frameListeners: ((f: Frame) => void)[] = [];
  private writing: Promise<void> = Promise.resolve();
  private linkError?: Error;
  /** Requests resent after a lost or garbled reply. */
  retries = 0;

  /** Default time for one attempt of a request, ms. */
  readonly attemptMs: number;

  /** Wakes a connect() waiting for the handshake. */
  private changed?: () => void;
  /** Its timers run on the process's scheduler (host/scheduler.ts). */
  private activeMs = 2;
  private scheduled = false;
  private closed = false;

  constructor(
    readonly transport: Transport,
    opts: {
      wasmPath?: string;
      attemptMs?: number;
      session?: SessionOptions;
      storage?: Storage;
      /** A core to start again (init) instead of a new instance: a link
       *  whose previous Peer is closed reuses its core, so reconnects do not
       *  leave Wasm instances (and their address-space reservations) to the
       *  GC. Its journal is read again from `storage`. */
      reuse?: QnCore;
      /** The core's slicing-by-16 CRC (15 KiB of tables in its memory; the
       *  default) or the device's byte-wise one (links that are mostly
       *  idle, by the thousand). */
      wideCrc?: boolean;
    } = {},
  ) {
    // storage: where the journal lives (a FileStorage survives the host).
    if (opts.reuse) {
      this.core = opts.reuse;
      if (opts.storage) this.core.storage = opts.storage;
      this.core.init();
    } else this.core = loadCore({ wasmPath: opts.wasmPath, storage: opts.storage, wideCrc: opts.wideCrc });
    this.attemptMs = opts.attemptMs ?? 500;
    if (opts.session) this.configure(opts.session);
    transport.onData((b) => this.receive(b));
    transport.onClose((err) => {
      // A reason given first (fail(): a flush or a listener failed) is kept.
      this.linkError ??= err ?? new QnError(Status.ERR_IO, `${transport.name}: link closed`);
      this.changed?.();
      for (const p of this.pending.values()) p.reject(this.linkError);
      this.pending.clear();
    });
  }

  /** Every frame the core hands over that is not a reply to a request:
   *  DATA, and the peer's own requests. */
  onFrame(l: (f: Frame) => void): void {
    this.frameListeners.push(l);
  }

  /** Every application message (DATA frame) received, in order. */
  onMessage(l: (m: Message) => void): void {
    this.onFrame((f) => {
      const m = messageOf(f);
      if (m) l(m);
    });
  }

  /** Make this end a session client with `s`, open its journal, and start
   *  its clock on the shared scheduler (left by close()). */
  configure(s: SessionOptions): void {
    configureClient(this.core, s);
    // The sender's half of QoS 2 lives in the journal (default: in memory;
    // pass a FileStorage to loadCore for one that survives the host).
    if (this.core.journalStat(JournalStat.SIZE) === 0) this.core.journalOpen(this.core.storage.size);
    this.activeMs = s.tickMs ?? 2;
    this.scheduled = true;
    scheduler.wake(this, 0);
  }

  /** The scheduler's call: run the timers; when to come again. */
  run(): number | undefined {
    if (this.closed || this.linkError) return undefined;
    this.service();
    return nextRunMs(this.core, this.activeMs);
  }

  /** Run the core's timers and move what they produced. */
  service(): void {
    if (this.linkError || this.closed) return;
    this.core.tick(nowUs());
    this.flush();
  }

  get up(): boolean {
    return this.core.sessionUp();
  }

  /** Handshake (client); resolves when the session is up. */
  async connect(timeoutMs = 5000): Promise<{ handshakeUs: number; resumed: boolean }> {
    const core = this.core;
    const authBefore = core.counter(Counter.AUTH_FAIL);
    core.tick(nowUs());
    core.connect();
    this.flush();
    const t0 = Date.now();
    while (!this.up) {
      if (this.linkError) throw this.linkError;
      if (this.core.counter(Counter.AUTH_FAIL) > authBefore)
        throw new QnError(
          Status.ERR_AUTH,
          `handshake with ${this.transport.name} failed: the peer's proof does not match our key`,
        );
      const refused = Number(core.sessionStat(SessionStat.REFUSAL));
      if (refused < 0) throw new QnError(refused, `handshake with ${this.transport.name} refused by the device`);
      if (Date.now() - t0 > timeoutMs)
        throw new QnError(
          Status.ERR_TIMEOUT,
          `no session with ${this.transport.name} within ${timeoutMs} ms (state ${core.sessionState()})`,
        );
      // Until the core's state can have changed (bytes in, the link gone),
      // or a while: thousands of links connecting at once do not each poll
      // a 1 ms timer.
      await new Promise<void>((r) => {
        const t = setTimeout(r, CONNECT_POLL_MS);
        this.changed = () => {
          clearTimeout(t);
          r();
        };
      });
      this.changed = undefined;
    }
    return {
      handshakeUs: Number(core.sessionStat(SessionStat.HANDSHAKE_US)),
      resumed: core.sessionStat(SessionStat.RESUMED) === 1n,
    };
  }

  /** Publish an application message; returns its packet id (0 for QoS 0).
   *  With `trace` (a 26-byte binary W3C trace context, host/trace.ts) the
   *  frame carries it ahead of the payload and has the TRACE flag set. */
  publish(channel: number, qos: number, payload: Uint8Array, prio: number = Prio.BULK, trace?: Uint8Array): number {
    if (this.closed) throw new QnError(Status.ERR_IO, "peer closed");
    if (this.linkError) throw this.linkError;
    this.core.tick(nowUs());
    // The core checks qos and prio for their range (a QnError, ERR_ARG)
    // and every other argument before it copies the payload.
    const r = this.core.publish(channel, qos as Qos, prio as Prio, Codec.NONE, payload, trace);
    this.flush();
    return r;
  }

  /** The shell stops (true) or resumes (false) reading from the transport
   *  on purpose (backpressure): the core then does not take the session
   *  down for the peer's silence, and starts its heartbeat window again on
   *  resume (qn_hold_rx). */
  holdRx(held: boolean): void {
    this.core.tick(nowUs());
    this.core.holdRx(held);
  }

  /** Set by a shell that keeps what it is handed (the gateway's spool):
   *  resolves when what the frame listeners kept of a batch is durable. The
   *  core marks those messages delivered (QoS 2: journalled) only then, so a
   *  crash can never leave a message marked delivered but not stored; input
   *  that arrives meanwhile is held, in order, and the inbox is never
   *  overrun. One wait (one fsync) covers every frame and every device that
   *  arrived before it. Without it the batch is committed at once. */
  commitWhen?: () => Promise<void>;

  /** Resolves when everything the shell stored so far is durable; taken at
   *  each flush, and the bytes pulled then leave only after it (the
   *  gateway: its spool, so no acknowledgement overtakes its message). */
  outputBarrier?: () => Promise<void>;
  private holding = false;
  private held: Uint8Array[] = [];

  private receive(bytes: Uint8Array): void {
    if (this.closed) return; // its core may serve the next Peer by now
    if (this.holding) {
      this.held.push(bytes);
      return;
    }
    this.core.tick(nowUs());
    this.core.rx(bytes);
    if (this.scheduled) scheduler.wake(this, this.activeMs);
    this.changed?.();
    // Hand every frame over while it is still in the inbox, then commit.
    const n = this.core.inboxCount();
    for (let i = 0; i < n; i++) {
      const f = this.core.inboxPeek(i)!;
      const p = this.pending.get(f.packet);
      if (p && f.type !== FrameType.DATA) {
        this.pending.delete(f.packet);
        p.resolve(f);
      } else {
        try {
          for (const l of this.frameListeners) l(f);
        } catch (e) {
          // The application did not take the frame. Nothing of this batch
          // is popped (so nothing is marked delivered) and the link is
          // closed: the peer sends its unacknowledged frames again on the
          // next session, the process goes on, no frame is handed over
          // twice on this one.
          this.fail(
            new QnError(
              Status.ERR_IO,
              `a frame listener threw (${(e as Error)?.message ?? String(e)}); link closed, the peer's unacknowledged frames come again after reconnecting`,
            ),
          );
          return;
        }
      }
    }
    if (n > 0 && this.commitWhen) {
      this.holding = true;
      this.commitWhen().then(
        () => this.commit(n),
        (e: Error) => this.fail(e),
      );
      this.flush(); // acks wait in the write chain until their data is durable
      return;
    }
    for (let i = 0; i < n; i++) this.core.inboxPop();
    this.flush();
  }

  private commit(n: number): void {
    if (this.closed) return; // its core may serve the next Peer by now
    try {
      for (let i = 0; i < n; i++) this.core.inboxPop();
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    this.holding = false;
    this.flush();
    while (this.held.length && !this.holding) this.receive(this.held.shift()!);
  }

  /** Durability failed (an fsync error): the link cannot go on. */
  private fail(e: Error): void {
    this.linkError = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    void this.transport.close().catch(() => {});
  }

  /** Write every byte the core has queued, in order. Journal writes are
   *  made durable first (one fsync for the batch with a group-commit
   *  storage): what the bytes acknowledge is on disk before they leave. */
  flush(): Promise<void> {
    const bytes = this.core.pull();
    if (bytes.length) {
      // What these bytes acknowledge was written before this pull: wait for
      // exactly that to be durable (targets taken now), in the journal and
      // wherever outputBarrier says (the gateway's spool). Both flushes run
      // at once, and records written later (a commit's DELIVERED) do not
      // hold these bytes back.
      const st = this.core.storage;
      if (!st.syncAsync) st.sync?.();
      const ready = Promise.all([st.syncAsync?.(), this.outputBarrier?.()]);
      ready.catch(() => {}); // handled in the chain below
      // Output may start a retransmission timer: run the timers soon.
      if (this.scheduled && !this.closed) scheduler.wake(this, this.activeMs);
      this.writing = this.writing
        .then(() => ready)
        .then(() => this.transport.write(bytes))
        .catch((e) => {
          this.linkError = e;
          for (const p of this.pending.values()) p.reject(e);
          this.pending.clear();
        });
    }
    return this.writing;
  }

  /** Queue a frame and write it; returns its packet id. */
  send(type: number, o: RequestOptions & { packet?: number; qos?: number } = {}): number {
    if (this.closed) throw new QnError(Status.ERR_IO, "peer closed");
    if (this.linkError) throw this.linkError;
    if (o.prio !== undefined) intArg(o.prio, Prio.EMERGENCY, PRIO_CLASSES - 1, "send: prio");
    if (o.qos !== undefined) intArg(o.qos, Qos.AT_MOST_ONCE, Qos.EXACTLY_ONCE, "send: qos");
    this.core.tick(nowUs());
    const packet = this.core.send({
      type,
      flags: flags(o.prio ?? Prio.CONTROL, o.qos ?? 0),
      codec: o.codec ?? Codec.NONE,
      channel: o.channel ?? 0,
      packet: o.packet,
      payload: o.payload,
    });
    this.flush();
    return packet;
  }

  /** Send a request and wait for the reply with its packet id. */
  async request(type: number, o: RequestOptions = {}): Promise<Frame> {
    const attemptMs = msArg(o.attemptMs ?? this.attemptMs, "request: attemptMs");
    const deadline = Date.now() + msArg(o.timeoutMs ?? 3000, "request: timeoutMs");
    const packet = this.core.nextPacket();
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
      const timeout = new Promise<null>((r) => {
        timer = setTimeout(() => r(null), wait);
      });
      const got = await Promise.race([reply, timeout]).finally(() => clearTimeout(timer));
      if (got) return got;
      this.pending.delete(packet);
      if (Date.now() >= deadline) {
        throw new QnError(
          Status.ERR_TIMEOUT,
          `no answer from ${this.transport.name} to frame type 0x${type.toString(16)} after ${attempt} attempt(s)`,
        );
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    scheduler.remove(this);
    for (const p of this.pending.values()) p.reject(new QnError(Status.ERR_IO, "peer closed"));
    this.pending.clear();
    await this.transport.close();
  }
}
