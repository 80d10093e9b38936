// A device in-process: the same core as the firmware, driven by a shell that
// does what the SDK loop (sdk/src/qn_loop.c) does: bytes in and out, the clock, a server
// session with the device key, the journal in "flash" (memory that survives
// a reset), and the demo application (echo QoS 0/1 DATA, consume QoS 2,
// reset on RESET_REQ). The selftest's `--target sim`.
import { readFileSync } from "node:fs";
import { QnCore, sharedModule, DEFAULT_WASM } from "./core.ts";
import { MemoryStorage } from "./storage.ts";
import { nowUs } from "./clock.ts";
import { FrameType, Flag, TRACE_BYTES, flagsPrio, flagsQos } from "./frame.ts";
import { AuthMode, type Codec, ConfigKey, type Prio, Qos, Role } from "./abi.ts";
import type { Transport } from "./transport/transport.ts";
import { scheduler, type Task } from "./scheduler.ts";
import { nextRunMs } from "./peer.ts";
import { crc32c } from "../tools/crc32c.mjs";

export interface SimOptions {
  key?: Uint8Array;
  auth?: number;
  wasmPath?: string;
  /** The device clock's rate against the host's (default 1): a crystal that
   *  runs fast or slow, for the selftest's clock check to find. */
  clockRate?: number;
  /** The id of its key in the gateway's registry, named in WELCOME (a
   *  device of a fleet listener); none by default. */
  keyId?: number;
}

const images = new Map<string, { crc: number; length: number }>();
/** The CRC and length of the module file, read once per process. */
function imageOf(path: string): { crc: number; length: number } {
  let i = images.get(path);
  if (!i) {
    const b = readFileSync(path);
    images.set(path, (i = { crc: crc32c(b), length: b.length }));
  }
  return i;
}

export class SimDevice implements Task {
  core!: QnCore;
  /** Survives reset(), like flash. */
  readonly storage = new MemoryStorage(32 * 1024);
  resets = 0;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly module: WebAssembly.Module;
  private readonly image: { crc: number; length: number };

  constructor(
    private transport: Transport,
    private readonly opts: SimOptions = {},
  ) {
    const rate = opts.clockRate ?? 1;
    if (!(rate > 0 && Number.isFinite(rate)))
      throw new RangeError(`SimDevice: clockRate must be a positive number (got ${opts.clockRate})`);
    const path = opts.wasmPath ?? DEFAULT_WASM;
    this.module = sharedModule(path);
    this.image = imageOf(path);
    this.boot();
    transport.onData((b) => {
      if (this.transport === transport) this.step(b);
    });
    // The firmware's main loop runs continuously; here the shared scheduler
    // drives the core's clock (heartbeats, retransmissions) between received
    // bytes: every 2 ms while there is work, less often while idle.
    scheduler.wake(this, 0);
  }

  run(): number | undefined {
    if (this.closed) return undefined;
    this.step(new Uint8Array(0));
    return nextRunMs(this.core, 2);
  }

  private boot(): void {
    this.core = new QnCore(this.module, { storage: this.storage });
    this.core.init();
    const core = this.core;
    // No MCU clock in-process: clock_hz 0 means "not a hardware target".
    core.boardInfo(0, core.memoryBytes, "sim");
    // The module this shell runs is its "image": report its CRC as a board
    // reports the CRC of its flash.
    core.boardImage(this.image.crc, this.image.length);
    core.setConfig(ConfigKey.ROLE, Role.SERVER);
    core.setConfig(ConfigKey.AUTH, this.opts.auth ?? (this.opts.key ? AuthMode.FRAME_MAC : AuthMode.NONE));
    if (this.opts.key) core.setKey(this.opts.key);
    if (this.opts.keyId) core.setKeyId(this.opts.keyId);
    core.tick(this.now());
    core.journalOpen(this.storage.size);
  }

  /** Power cut and reboot: RAM is gone, the journal's storage is not. */
  reset(): void {
    this.resets++;
    this.boot();
  }

  /** The device's clock: the host's, scaled by clockRate. */
  private now(): bigint {
    const rate = this.opts.clockRate ?? 1;
    return rate === 1 ? nowUs() : BigInt(Math.floor(Number(nowUs()) * rate));
  }

  private step(bytes: Uint8Array): void {
    this.core.tick(this.now());
    if (bytes.length) this.core.rx(bytes);
    for (let f; (f = this.core.inboxPop()); ) {
      if (f.type === FrameType.RESET_REQ) {
        this.reset();
        return;
      }
      if (f.type !== FrameType.DATA) continue;
      const qos = flagsQos(f.flags);
      if (qos === Qos.EXACTLY_ONCE) continue; // consumed: the delivery digest records it
      // Echoed as received, trace context included (refused when full:
      // dropped, as on the device).
      const traced = (f.flags & Flag.TRACE) !== 0;
      if (traced && f.payload.length < TRACE_BYTES) continue; // no whole trace context: refused, as the core would
      this.core.tryPublish(
        f.channel,
        qos as Qos,
        flagsPrio(f.flags) as Prio,
        f.codec as Codec,
        traced ? f.payload.subarray(TRACE_BYTES) : f.payload,
        traced ? f.payload.subarray(0, TRACE_BYTES) : undefined,
      );
    }
    const out = this.core.pull();
    if (bytes.length || out.length) scheduler.wake(this, 2);
    if (out.length) this.writing = this.writing.then(() => this.transport.write(out)).catch(() => {});
  }

  /** A new connection to the same running device (its TCP connection was
   *  lost, the device was not reset): the core and its session state stay,
   *  as on a board whose socket reconnects. */
  rebind(t: Transport): void {
    this.transport = t;
    this.writing = Promise.resolve();
    t.onData((b) => {
      if (this.transport === t) this.step(b);
    });
    if (this.closed) {
      this.closed = false;
      scheduler.wake(this, 0);
    }
  }

  close(): void {
    this.closed = true;
    scheduler.remove(this);
  }
}
