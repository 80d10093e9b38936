// Two cores wired through a simulated link with a simulated clock: the
// bench for the protocol's state machines. The link works frame by frame
// (split at 0x00 delimiters) and can drop, duplicate, corrupt, reorder and
// cut; either end can be reset (a new core instance over the same storage:
// the journal is all that survives, as on a device after a power cut).
import { loadModule, QnCore } from "../../host/core.ts";
import { MemoryStorage } from "../../host/storage.ts";
import { rng } from "../core/jsframe.ts";
import { raw } from "../support/raw-core.ts";
import {
  AuthMode,
  Codec,
  ConfigKey,
  type Counter,
  COUNTER_COUNT,
  FrameType,
  type Prio,
  type Qos,
} from "../../host/abi.ts";
import { flagsQos } from "../../host/frame.ts";
import { LineNoise, type NoiseOptions } from "../../host/line-noise.ts";

export const KEY = new TextEncoder().encode("qn-test-key-0123456789abcdef0123");
const module = loadModule();

export interface EndOptions {
  /** Role.SERVER or Role.CLIENT; auth an AuthMode (default FRAME_MAC). */
  role: 0 | 1;
  auth?: number;
  key?: Uint8Array;
  storage?: MemoryStorage;
  heartbeatMs?: number;
  misses?: number;
  retxMs?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  handshakeMs?: number;
  seed?: number;
  /** Act as a core without selective repeat (from boot, so its first
   *  HELLO announces none). */
  sackOff?: boolean;
}

export class End {
  core!: QnCore;
  readonly storage: MemoryStorage;
  /** Application deliveries, surviving resets (the app's own truth). */
  readonly got: { qos: number; packet: number; channel: number; flags: number; payload: Buffer }[] = [];
  resets = 0;
  constructor(
    readonly opts: EndOptions,
    private now: () => number,
  ) {
    this.storage = opts.storage ?? new MemoryStorage(32 * 1024);
    this.boot();
  }

  boot(): void {
    const r = rng(this.opts.seed ?? 1 + this.resets * 7919);
    this.core = new QnCore(module, {
      storage: this.storage,
      entropy: (d) => {
        for (let i = 0; i < d.length; i++) d[i] = r() & 0xff;
      },
    });
    this.core.init();
    const o = this.opts;
    const set = (k: ConfigKey, v: number) => this.core.setConfig(k, v);
    set(ConfigKey.ROLE, o.role);
    set(ConfigKey.AUTH, o.auth ?? AuthMode.FRAME_MAC);
    set(ConfigKey.HEARTBEAT_MS, o.heartbeatMs ?? 50);
    set(ConfigKey.HEARTBEAT_MISS, o.misses ?? 3);
    set(ConfigKey.BACKOFF_CAP_MS, o.backoffCapMs ?? 200);
    set(ConfigKey.BACKOFF_BASE_MS, o.backoffBaseMs ?? 10);
    set(ConfigKey.HANDSHAKE_MS, o.handshakeMs ?? 100);
    set(ConfigKey.RETX_MS, o.retxMs ?? 30);
    this.core.setKey(o.key ?? KEY);
    if (o.sackOff) raw(this.core).x.qn_sack_off();
    // The journal opens before the first tick, as on a device: a client's
    // first tick sends its HELLO, which announces the journal's QoS 2 bases
    // and numbering epoch.
    this.core.journalOpen(this.storage.size);
    this.core.tick(BigInt(this.now()) * 1000n);
  }

  /** Counters summed over every boot (a reset zeroes the core's own). */
  private carried = new Map<number, number>();
  total(id: Counter): number {
    return (this.carried.get(id) ?? 0) + this.core.counter(id);
  }

  /** Power cut: the core and everything in RAM is gone. */
  reset(): void {
    for (let id = 0; id < COUNTER_COUNT; id++) this.carried.set(id, this.total(id as Counter));
    this.resets++;
    this.boot();
  }

  get up(): boolean {
    return this.core.sessionUp();
  }

  /** The application takes everything from the inbox. */
  drain(): void {
    this.takeInbox(false);
  }

  /** As drain(), but the application takes a frame only when its pop
   *  returned with the power still on: a pop cut by a power loss (the
   *  storage's cutAtOp) never reached it. For power-cut tests. */
  drainWhilePowered(): void {
    this.takeInbox(true);
  }

  private takeInbox(untilPowerLost: boolean): void {
    for (let f; (f = this.core.inboxPop()); ) {
      if (untilPowerLost && this.storage.powerLost) return;
      if (f.type === FrameType.DATA)
        this.got.push({
          qos: flagsQos(f.flags),
          packet: f.packet,
          channel: f.channel,
          flags: f.flags,
          payload: Buffer.from(f.payload),
        });
    }
  }

  /** Publish; returns the packet id or a negative status. */
  publish(channel: number, qos: number, payload: Uint8Array, prio = 2): number {
    return this.core.tryPublish(channel, qos as Qos, prio as Prio, Codec.NONE, payload);
  }

  /** Publish with a binary trace context ahead of the payload (TRACE flag). */
  publishTraced(channel: number, qos: number, trace: Uint8Array, payload: Uint8Array, prio = 2): number {
    return this.core.tryPublish(channel, qos as Qos, prio as Prio, Codec.NONE, payload, trace);
  }
}

export interface Faults {
  drop?: number;
  duplicate?: number;
  corrupt?: number;
  reorder?: number;
}

/** Frames in flight one way, each due at a time. */
class Wire {
  q: { at: number; bytes: Uint8Array }[] = [];
  partial: number[] = [];
  stats = { frames: 0, dropped: 0, duplicated: 0, corrupted: 0, reordered: 0 };
  constructor(
    private r: () => number,
    private faults: Faults,
  ) {}
  send(bytes: Uint8Array, now: number, cut: boolean): void {
    for (const b of bytes) {
      this.partial.push(b);
      if (b !== 0) continue;
      const frame = Uint8Array.from(this.partial);
      this.partial = [];
      if (frame.length === 1) continue;
      this.stats.frames++;
      const f = this.faults,
        p = () => (this.r() % 1_000_000) / 1_000_000;
      if (cut || (f.drop && p() < f.drop)) {
        this.stats.dropped++;
        continue;
      }
      let fr = frame;
      if (f.corrupt && p() < f.corrupt) {
        fr = Uint8Array.from(frame);
        fr[this.r() % (fr.length - 1)] ^= 1 << (this.r() % 8);
        this.stats.corrupted++;
      }
      let at = now + 1;
      if (f.reorder && p() < f.reorder) {
        at += 1 + (this.r() % 5);
        this.stats.reordered++;
      }
      this.q.push({ at, bytes: fr });
      if (f.duplicate && p() < f.duplicate) {
        this.q.push({ at: at + 1, bytes: fr });
        this.stats.duplicated++;
      }
    }
  }
  due(now: number): Uint8Array[] {
    const out = this.q.filter((e) => e.at <= now).sort((a, b) => a.at - b.at);
    this.q = this.q.filter((e) => e.at > now);
    return out.map((e) => e.bytes);
  }
}

/** A byte stream one way through line noise (host/line-noise.ts): bytes
 *  arrive as written, damaged, one ms later, with no regard for frames (a
 *  delimiter can be hit as well as any other byte). */
class NoisyWire {
  q: { at: number; bytes: Uint8Array }[] = [];
  readonly noise: LineNoise;
  constructor(opts: NoiseOptions) {
    this.noise = new LineNoise(opts);
  }
  send(bytes: Uint8Array, now: number, cut: boolean): void {
    if (cut || bytes.length === 0) return;
    this.q.push({ at: now + 1, bytes: this.noise.apply(bytes) });
  }
  due(now: number): Uint8Array[] {
    const out = this.q.filter((e) => e.at <= now);
    this.q = this.q.filter((e) => e.at > now);
    return out.map((e) => e.bytes);
  }
}

const NO_FRAME_FAULTS = { frames: 0, dropped: 0, duplicated: 0, corrupted: 0, reordered: 0 };
const statsOf = (w: Wire | NoisyWire) => (w instanceof Wire ? w.stats : NO_FRAME_FAULTS);
const noiseOf = (w: Wire | NoisyWire) =>
  w instanceof NoisyWire ? { ...w.noise.stats } : { bytes: 0, flipped: 0, dropped: 0, inserted: 0 };

export class Link {
  t = 0; // ms
  readonly a: End;
  readonly b: End;
  private ab: Wire | NoisyWire;
  private ba: Wire | NoisyWire;
  cut = false;
  /** End a stops reading (a shell's backpressure): what b sends waits,
   *  in order, and reaches a once this is false again. */
  aPaused = false;
  private heldForA: Uint8Array[] = [];
  /** Line rate in bytes per simulated ms each way (Infinity: unlimited).
   *  921600 baud 8N1 is 92.16 bytes/ms. */
  bytesPerMs = Infinity;
  private credit = [0, 0];
  /** `faults` act on whole frames; `noise` (instead) on the byte stream,
   *  seeded per direction from its seed. */
  constructor(aOpts: EndOptions, bOpts: EndOptions, faults: Faults = {}, seed = 1, noise?: NoiseOptions) {
    const r = rng(seed);
    this.a = new End(aOpts, () => this.t);
    this.b = new End(bOpts, () => this.t);
    this.ab = noise ? new NoisyWire({ ...noise, seed: (noise.seed ?? seed) * 2 + 1 }) : new Wire(r, faults);
    this.ba = noise ? new NoisyWire({ ...noise, seed: (noise.seed ?? seed) * 2 + 2 }) : new Wire(r, faults);
  }
  /** Frame faults each way (a link built with `faults`). */
  get stats() {
    return { ab: statsOf(this.ab), ba: statsOf(this.ba) };
  }
  /** Line damage each way (a link built with `noise`). */
  get noise() {
    return { ab: noiseOf(this.ab), ba: noiseOf(this.ba) };
  }

  /** One millisecond of simulated time. */
  step(): void {
    this.t++;
    const us = BigInt(this.t) * 1000n;
    let side = 0;
    for (const [from, to, wire] of [
      [this.a, this.b, this.ab],
      [this.b, this.a, this.ba],
    ] as const) {
      const frames = wire.due(this.t);
      if (to === this.a && (this.aPaused || this.heldForA.length)) {
        this.heldForA.push(...frames);
        frames.length = 0;
        if (!this.aPaused) frames.push(...this.heldForA.splice(0));
      }
      for (const fr of frames) if (!this.cut) to.core.rx(fr);
      from.core.tick(us);
      if (this.bytesPerMs === Infinity) wire.send(from.core.pull(), this.t, this.cut);
      else {
        // A UART: the shell pulls only what the line can take this ms.
        this.credit[side] = Math.min(this.credit[side] + this.bytesPerMs, 256);
        const n = Math.floor(this.credit[side]);
        const bytes = n > 0 ? from.core.pull(n) : new Uint8Array(0);
        this.credit[side] -= bytes.length;
        wire.send(bytes, this.t, this.cut);
      }
      side++;
    }
    this.a.drain();
    this.b.drain();
  }

  run(ms: number, until?: () => boolean): boolean {
    for (let i = 0; i < ms; i++) {
      this.step();
      if (until?.()) return true;
    }
    return until ? until() : true;
  }

  connect(limitMs = 2000): void {
    this.a.core.connect();
    if (!this.run(limitMs, () => this.a.up && this.b.up)) throw new Error("no session");
  }
}

export function counter(e: End, id: Counter): number {
  return e.core.counter(id);
}
