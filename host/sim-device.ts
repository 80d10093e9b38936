// A device in-process: the same core as the firmware, driven by a shell that
// does what the SDK loop (sdk/src/qn_loop.c) does: bytes in and out, the clock, a server
// session with the device key, the journal in "flash" (memory that survives
// a reset), and the demo application (echo QoS 0/1 DATA, consume QoS 2,
// reset on RESET_REQ). The selftest's `--target sim`.
import { readFileSync } from "node:fs";
import { QnCore, loadModule, DEFAULT_WASM } from "./core.ts";
import { MemoryStorage } from "./storage.ts";
import { nowUs } from "./clock.ts";
import { FrameType, Flag, TRACE_BYTES, flagsPrio, flagsQos } from "./frame.ts";
import { AuthMode, type Codec, ConfigKey, type Prio, Qos, Role } from "./abi.ts";
import type { Transport } from "./transport/transport.ts";
import { crc32c } from "../tools/crc32c.mjs";

export interface SimOptions {
  key?: Uint8Array;
  auth?: number;
  wasmPath?: string;
  /** The device clock's rate against the host's (default 1): a crystal that
   *  runs fast or slow, for the selftest's clock check to find. */
  clockRate?: number;
}

export class SimDevice {
  core!: QnCore;
  /** Survives reset(), like flash. */
  readonly storage = new MemoryStorage(32 * 1024);
  resets = 0;
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout;
  private readonly module: WebAssembly.Module;
  private readonly image: Buffer;

  constructor(
    private readonly transport: Transport,
    private readonly opts: SimOptions = {},
  ) {
    const rate = opts.clockRate ?? 1;
    if (!(rate > 0 && Number.isFinite(rate)))
      throw new RangeError(`SimDevice: clockRate must be a positive number (got ${opts.clockRate})`);
    const path = opts.wasmPath ?? DEFAULT_WASM;
    this.module = loadModule(path);
    this.image = readFileSync(path);
    this.boot();
    transport.onData((b) => this.step(b));
    // The firmware's main loop runs continuously; here a timer drives the
    // core's clock (heartbeats, retransmissions) between received bytes.
    this.timer = setInterval(() => this.step(new Uint8Array(0)), 2);
  }

  private boot(): void {
    this.core = new QnCore(this.module, { storage: this.storage });
    this.core.init();
    const core = this.core;
    // No MCU clock in-process: clock_hz 0 means "not a hardware target".
    core.boardInfo(0, core.memoryBytes, "sim");
    // The module this shell runs is its "image": report its CRC as a board
    // reports the CRC of its flash.
    core.boardImage(crc32c(this.image), this.image.length);
    core.setConfig(ConfigKey.ROLE, Role.SERVER);
    core.setConfig(ConfigKey.AUTH, this.opts.auth ?? (this.opts.key ? AuthMode.FRAME_MAC : AuthMode.NONE));
    if (this.opts.key) core.setKey(this.opts.key);
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
    if (out.length) this.writing = this.writing.then(() => this.transport.write(out)).catch(() => {});
  }

  close(): void {
    clearInterval(this.timer);
  }
}
