// The Node loader of the QN core: instantiates the same build/qn.wasm the
// device runs, supplies its imports, and runs its data path (bytes in,
// time, bytes out, messages). The export table and the linear memory stay
// private to it and to QnCore (host/core.ts), its typed face: every byte
// the host hands the core is checked for range and length first, then
// copied in here. A trap inside the core (a bug) becomes a QnError with
// ERR_TRAP and the core is marked unusable until init().
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, QnError, Status, check } from "./status.ts";
import { HEADER_SIZE, TRACE_BYTES, type Frame, type FrameFields } from "./frame.ts";
import { Codec, Prio, PRIO_CLASSES, Qos } from "./abi.ts";
import { randomFillSync } from "node:crypto";
import { MemoryStorage, type Storage } from "./storage.ts";
import { copyOut } from "./out-pool.ts";
import { byteArg, bytesArg, frameFieldArgs, intArg } from "./args.ts";
import type { CoreExports, RawCore } from "./core-exports.ts";

/** The host scratch above the core's data: four areas of 4 KiB (offsets
 *  from the scratch base; IN, OUT and FIELDS for the codecs and primitives,
 *  WIRE for the pure frame codec), then the CRC tables. Every copy into an area is
 *  checked against AREA first: past it lies the next area, or the tables. */
export const SCRATCH = { AREA: 4096, IN: 0, OUT: 4096, FIELDS: 8192, WIRE: 12288, END: 16384 } as const;

export interface LoadOptions {
  wasmPath?: string;
  /** Receives the core's log lines (debug builds). */
  log?: (level: number, msg: string) => void;
  /** Persistent storage for the journal (default: 64 KiB in memory). */
  storage?: Storage;
  /** Entropy source (default: the OS's, through node:crypto). */
  entropy?: (dst: Uint8Array) => void;
  /** Slicing-by-16 CRC tables past the core's data (default true; false
   *  runs the device's byte-table CRC). */
  wideCrc?: boolean;
}

const EMPTY = Buffer.alloc(0);

/** The key of the test door (see RawCore in host/core-exports.ts). */
const RAW_DOOR = Symbol.for("qn.test.raw-core");

export const DEFAULT_WASM = join(ROOT, "build/qn.wasm");

const compiled = new Map<string, WebAssembly.Module>();

/** The module at `path`, compiled once per process: every core of it shares
 *  the code (a gateway with thousands of links compiles it once). */
export function sharedModule(path = DEFAULT_WASM): WebAssembly.Module {
  let m = compiled.get(path);
  if (!m) compiled.set(path, (m = loadModule(path)));
  return m;
}

export function loadModule(path = DEFAULT_WASM): WebAssembly.Module {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new Error(`QN core not built: ${path} is missing (run \`make core\`)`);
  }
  return new WebAssembly.Module(new Uint8Array(bytes)); // a plain ArrayBuffer-backed view, as BufferSource wants
}

/** The core instance and its data path: bytes in, time, bytes out,
 *  messages. QnCore (host/core.ts) adds the session, the journal, the
 *  figures, the board and the codecs. */
export class CoreInstance {
  /** The core's Wasm exports: private, reached through the methods below
   *  (tests: test/support/raw-core.ts). */
  protected readonly x: CoreExports;
  protected u8: Uint8Array;
  private dv: DataView;
  /** Host-only scratch above the core's static data: the core never touches
   *  memory past __heap_base (stub runtime, no allocation). */
  protected readonly scratch: number;
  /** Whether the core runs its CRC-32C slicing-by-16 (host RAM for tables,
   *  checked by the core against its byte-wise CRC) rather than byte-wise. */
  readonly wideCrc: boolean;
  private broken = false;
  protected readonly appBuf: number;
  private readonly rxBuf: number;
  private readonly rxCap: number;
  private readonly txBuf: number;
  /** Bytes one pull from the core moves at most (its transmit staging area). */
  readonly txCap: number;
  /** Largest payload a frame carries. */
  readonly maxPayload: number;
  /** Bytes of the core's staging area for byte fields, keys and names. */
  private readonly msgData: number;

  storage: Storage;

  constructor(module: WebAssembly.Module, opts: LoadOptions = {}) {
    this.storage = opts.storage ?? new MemoryStorage(64 * 1024);
    const entropy =
      opts.entropy ??
      ((d: Uint8Array) => {
        randomFillSync(d);
      });
    const imports = {
      env: {
        qn_storage_read: (off: number, ptr: number, len: number) =>
          this.storage.read(off >>> 0, this.u8.subarray(ptr, ptr + len)),
        qn_storage_write: (off: number, ptr: number, len: number) =>
          this.storage.write(off >>> 0, this.u8.subarray(ptr, ptr + len)),
        qn_storage_erase: (off: number, len: number) => this.storage.erase(off >>> 0, len >>> 0),
        qn_entropy: (ptr: number, len: number) => {
          entropy(this.u8.subarray(ptr, ptr + len));
          return 0;
        },
        qn_log: (level: number, ptr: number, len: number) => {
          const msg = Buffer.from(this.u8.subarray(ptr, ptr + len)).toString("utf8");
          opts.log?.(level, msg);
        },
        qn_panic: (line: number, col: number) => {
          throw new QnError(Status.ERR_TRAP, `core panic at assembly line ${line}:${col}`);
        },
      },
    };
    const inst = new WebAssembly.Instance(module, imports);
    this.x = inst.exports as unknown as CoreExports;
    this.u8 = new Uint8Array(this.x.memory.buffer);
    this.dv = new DataView(this.x.memory.buffer);
    this.scratch = (this.x.qn_heap_base() + 15) & ~15;
    // Fixed for the life of the module: read once, not per frame.
    this.appBuf = this.x.qn_app_buf();
    this.rxBuf = this.x.qn_rx_buf();
    this.rxCap = this.x.qn_rx_cap();
    this.txBuf = this.x.qn_tx_buf();
    this.txCap = this.x.qn_tx_cap();
    this.maxPayload = this.x.qn_max_payload();
    this.msgData = this.x.qn_msg_data();
    // Past the scratch: the core's slicing-by-16 CRC tables (the host has
    // the RAM the device does not; same results, ~6x faster CRC).
    const wide = this.scratch + SCRATCH.END;
    if (wide + this.x.qn_crc32c_widen_bytes() > this.u8.length) throw new Error("QN core: no room for host scratch");
    this.wideCrc = opts.wideCrc !== false && this.x.qn_crc32c_widen(wide) === 1;
  }

  /** Call into the core; a trap becomes QnError(ERR_TRAP). */
  protected call<T>(what: string, f: () => T): T {
    this.live(what);
    try {
      return f();
    } catch (e) {
      throw this.trapped(what, e);
    }
  }

  /** The error to throw for `e` out of a core call: a trap marks the core
   *  unusable until init(). The hot paths call the core directly inside
   *  try/catch and come here, so they allocate no closure. */
  protected trapped(what: string, e: unknown): unknown {
    if (e instanceof WebAssembly.RuntimeError) {
      this.broken = true;
      return new QnError(Status.ERR_TRAP, `${what}: ${e.message}`);
    }
    return e;
  }

  /** Throws if an earlier call trapped (until init()). */
  protected live(what: string): void {
    if (this.broken) throw new QnError(Status.ERR_TRAP, `${what}: core trapped earlier; call init()`);
  }

  /** A copy of n bytes of core memory (host/out-pool.ts says why not slice). */
  private copyOut(at: number, n: number): Uint8Array {
    return copyOut(this.u8, at, n);
  }

  /** The frame of n bytes (header + payload) at `at` in core memory, as a
   *  Frame whose payload is a copy the caller owns. */
  protected frameAt(at: number, n: number): Frame {
    const u8 = this.u8,
      dv = this.dv;
    return {
      version: u8[at],
      type: u8[at + 1],
      flags: u8[at + 2],
      codec: u8[at + 3],
      channel: u8[at + 4],
      length: dv.getUint16(at + 6, true),
      session: dv.getUint32(at + 8, true),
      packet: dv.getUint32(at + 12, true),
      lsn: dv.getUint32(at + 16, true),
      time: dv.getUint32(at + 20, true),
      payload: this.copyOut(at + HEADER_SIZE, n - HEADER_SIZE),
    };
  }

  /** Stage `bytes` in the core's area for byte fields, keys and names, run
   *  `f` on its address, and wipe the area again (a key must not linger). */
  protected staged<T>(bytes: Uint8Array, what: string, f: (at: number) => T): T {
    const at = this.msgData;
    this.u8.set(bytesArg(bytes, this.maxPayload, what), at);
    try {
      return this.call(what, () => f(at));
    } finally {
      this.u8.fill(0, at, at + bytes.length);
    }
  }

  /** The test door, keyed by a registered symbol that only
   *  test/support/raw-core.ts names: never part of the API. */
  [RAW_DOOR](): RawCore {
    return { x: this.x, mem: this.u8, scratchBase: this.scratch };
  }

  init(): void {
    this.broken = false;
    check(
      this.call("qn_init", () => this.x.qn_init()),
      "qn_init",
    );
  }

  /** Bytes of the core's linear memory. */
  get memoryBytes(): number {
    return this.u8.length;
  }

  // ---- the data path: bytes in, time, bytes out, messages ----

  /** Feed received bytes (any length); returns valid frames completed. */
  rx(bytes: Uint8Array): number {
    this.live("qn_rx");
    const buf = this.rxBuf,
      cap = this.rxCap;
    let frames = 0;
    for (let off = 0; off < bytes.length; off += cap) {
      const n = Math.min(cap, bytes.length - off);
      this.u8.set(n === bytes.length ? bytes : bytes.subarray(off, off + n), buf);
      let r: number;
      try {
        r = this.x.qn_rx(n);
      } catch (e) {
        throw this.trapped("qn_rx", e);
      }
      frames += check(r, "qn_rx");
    }
    return frames;
  }

  tick(nowUs: bigint | number): void {
    if (typeof nowUs === "number" && !Number.isInteger(nowUs))
      throw new QnError(Status.ERR_ARG, `tick: time must be whole microseconds, not ${nowUs}`);
    this.call("qn_tick", () => this.x.qn_tick(BigInt(nowUs)));
  }

  /** Pull up to `max` bytes for the wire (all queued bytes by default). */
  pull(max = Infinity): Uint8Array {
    this.live("qn_tx_pull");
    const buf = this.txBuf,
      cap = this.txCap;
    let first: Uint8Array | null = null,
      parts: Uint8Array[] | null = null;
    let total = 0;
    while (total < max) {
      let n: number;
      try {
        n = this.x.qn_tx_pull(Math.min(cap, max - total));
      } catch (e) {
        throw this.trapped("qn_tx_pull", e);
      }
      if (n <= 0) break;
      const b = this.copyOut(buf, n);
      if (!first) first = b;
      else (parts ??= [first]).push(b);
      total += n;
    }
    return parts ? Buffer.concat(parts) : (first ?? EMPTY);
  }

  /** Frames queued on priority class `prio`. */
  txPending(prio: Prio): number {
    return this.x.qn_tx_pending(intArg(prio, Prio.EMERGENCY, PRIO_CLASSES - 1, "txPending: prio"));
  }

  /** Bytes of the frame now on the wire still to send; 0 when idle. */
  txInFlight(): number {
    return this.x.qn_tx_in_flight();
  }

  /** Queue a frame. Returns the packet id used. */
  send(f: FrameFields & { payload?: Uint8Array }): number {
    this.live("qn_send");
    const payload = bytesArg(f.payload ?? EMPTY, this.maxPayload, "send: payload");
    frameFieldArgs(f, "send");
    this.u8.set(payload, this.appBuf + HEADER_SIZE);
    let r: number, packet: number;
    try {
      packet = f.packet ?? this.x.qn_next_packet();
      r = this.x.qn_send(
        f.type,
        f.flags ?? Prio.CONTROL,
        f.codec ?? Codec.NONE,
        f.channel ?? 0,
        packet,
        payload.length,
      );
    } catch (e) {
      throw this.trapped("qn_send", e);
    }
    check(r, "qn_send");
    return packet >>> 0;
  }

  /** A fresh packet id, for a request whose retries keep one id. */
  nextPacket(): number {
    return this.x.qn_next_packet() >>> 0;
  }

  /** Publish an application message: the payload is copied into the core
   *  (after `trace`, a 26-byte binary W3C trace context, when given: the
   *  frame then has the TRACE flag). Returns the packet id (0 for QoS 0);
   *  a refusal (window full, no session) is a QnError. */
  publish(channel: number, qos: Qos, prio: Prio, codec: Codec, payload: Uint8Array, trace?: Uint8Array): number {
    const r = this.tryPublish(channel, qos, prio, codec, payload, trace);
    if (r < 0) throw new QnError(r, `publish on channel ${channel}`);
    return r;
  }

  /** publish(), with the core's refusal returned as a negative Status
   *  instead of thrown: for a shell that drops or retries on a full window.
   *  Bad arguments still throw (ERR_ARG, ERR_OVERSIZE), before any copy. */
  tryPublish(channel: number, qos: Qos, prio: Prio, codec: Codec, payload: Uint8Array, trace?: Uint8Array): number {
    if (trace !== undefined && (!(trace instanceof Uint8Array) || trace.length !== TRACE_BYTES))
      throw new QnError(
        Status.ERR_ARG,
        `publish: trace context must be ${TRACE_BYTES} bytes, not ${trace instanceof Uint8Array ? trace.length : typeof trace}`,
      );
    byteArg(channel, "publish: channel");
    intArg(qos, Qos.AT_MOST_ONCE, Qos.EXACTLY_ONCE, "publish: qos");
    intArg(prio, Prio.EMERGENCY, PRIO_CLASSES - 1, "publish: prio");
    byteArg(codec, "publish: codec");
    bytesArg(
      payload,
      this.maxPayload - (trace ? TRACE_BYTES : 0),
      `publish on channel ${channel}: payload${trace ? " (with its trace context)" : ""}`,
    );
    this.live("qn_publish");
    const at = this.appBuf + HEADER_SIZE;
    if (trace) {
      this.u8.set(trace, at);
      this.u8.set(payload, at + TRACE_BYTES);
    } else this.u8.set(payload, at);
    const n = payload.length + (trace ? TRACE_BYTES : 0);
    try {
      return Number(
        trace
          ? this.x.qn_publish_traced(channel, qos, prio, codec, n)
          : this.x.qn_publish(channel, qos, prio, codec, n),
      );
    } catch (e) {
      throw this.trapped("qn_publish", e);
    }
  }

  /** Frames in the inbox. */
  inboxCount(): number {
    return this.x.qn_inbox_count();
  }

  /** Frames the inbox holds at most. */
  inboxCapacity(): number {
    return this.x.qn_inbox_capacity();
  }

  /** The i-th oldest inbox frame, left in the inbox (inboxPop takes it and,
   *  for QoS 2, journals it as delivered). */
  inboxPeek(i: number): Frame | null {
    this.live("qn_inbox_peek");
    let n: number;
    try {
      n = this.x.qn_inbox_peek(i);
    } catch (e) {
      throw this.trapped("qn_inbox_peek", e);
    }
    return n <= 0 ? null : this.frameAt(this.appBuf, n);
  }

  /** The oldest frame the core handed to the application, or null. */
  inboxPop(): Frame | null {
    this.live("qn_inbox_pop");
    let n: number;
    try {
      n = this.x.qn_inbox_pop();
    } catch (e) {
      throw this.trapped("qn_inbox_pop", e);
    }
    return n <= 0 ? null : this.frameAt(this.appBuf, n);
  }
}
