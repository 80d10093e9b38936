// The Node loader of the QN core: instantiates the same build/qn.wasm the
// device runs, supplies its imports, and wraps the Wasm ABI in a typed API.
// Negative statuses become QnError; a trap inside the core (a bug) becomes
// a QnError with ERR_TRAP and the core is marked unusable until init().
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, QnError, Status, check } from "./status.ts";
import { HEADER_SIZE, type Frame } from "./frame.ts";
import { Codec, FieldKind, PoolStat, Prio, SessionStat } from "./abi.ts";
import { randomFillSync } from "node:crypto";
import { MemoryStorage, type Storage } from "./storage.ts";
import { copyOut } from "./out-pool.ts";
import { bytesArg, frameFieldArgs } from "./args.ts";

/** The host scratch above the core's data: four areas of 4 KiB (offsets
 *  from scratchBase), then the CRC tables. Every copy into an area is
 *  checked against AREA first: past it lies the next area, or the tables. */
export const SCRATCH = { AREA: 4096, IN: 0, OUT: 4096, FIELDS: 8192, WIRE: 12288, END: 16384 } as const;

export interface Field {
  tag: number;
  kind: number;
  value: bigint;
  bytes?: Uint8Array;
}

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

interface Exports {
  memory: WebAssembly.Memory;
  [name: string]: any;
}

const EMPTY = Buffer.alloc(0);

export const DEFAULT_WASM = join(ROOT, "build/qn.wasm");

export function loadModule(path = DEFAULT_WASM): WebAssembly.Module {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new Error(`QN core not built: ${path} is missing (run \`make core\`)`);
  }
  return new WebAssembly.Module(new Uint8Array(bytes)); // a plain ArrayBuffer-backed view, as BufferSource wants
}

export class QnCore {
  readonly x: Exports;
  private u8: Uint8Array;
  private dv: DataView;
  /** Host-only scratch above the core's static data: the core never touches
   *  memory past __heap_base (stub runtime, no allocation). */
  private readonly scratch: number;
  /** Whether the core runs its CRC-32C slicing-by-16 (host RAM for tables,
   *  checked by the core against its byte-wise CRC) rather than byte-wise. */
  readonly wideCrc: boolean;
  private broken = false;
  private readonly appBuf: number;
  private readonly rxBuf: number;
  private readonly rxCap: number;
  private readonly txBuf: number;
  private readonly txCap: number;
  private readonly maxPayload: number;

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
    this.x = inst.exports as unknown as Exports;
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
    // Past the scratch: the core's slicing-by-16 CRC tables (the host has
    // the RAM the device does not; same results, ~6x faster CRC).
    const wide = this.scratch + SCRATCH.END;
    if (wide + this.x.qn_crc32c_widen_bytes() > this.u8.length) throw new Error("QN core: no room for host scratch");
    this.wideCrc = opts.wideCrc !== false && this.x.qn_crc32c_widen(wide) === 1;
  }

  /** Call into the core; a trap becomes QnError(ERR_TRAP). */
  private call<T>(what: string, f: () => T): T {
    this.live(what);
    try {
      return f();
    } catch (e) {
      throw this.trapped(what, e);
    }
  }

  /** The error to throw for `e` out of a core call: a trap marks the core
   *  unusable until init(). The hot paths (here and host/frame-codec.ts)
   *  call the core directly inside try/catch and come here, so they
   *  allocate no closure. */
  trapped(what: string, e: unknown): unknown {
    if (e instanceof WebAssembly.RuntimeError) {
      this.broken = true;
      return new QnError(Status.ERR_TRAP, `${what}: ${e.message}`);
    }
    return e;
  }

  /** Throws if an earlier call trapped (until init()). */
  live(what: string): void {
    if (this.broken) throw new QnError(Status.ERR_TRAP, `${what}: core trapped earlier; call init()`);
  }

  /** A copy of n bytes of core memory (host/out-pool.ts says why not slice). */
  private copyOut(at: number, n: number): Uint8Array {
    return copyOut(this.u8, at, n);
  }

  /** The frame of n bytes (header + payload) at `at` in core memory, as a
   *  Frame whose payload is a copy the caller owns. */
  frameAt(at: number, n: number): Frame {
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

  init(): void {
    this.broken = false;
    check(
      this.call("qn_init", () => this.x.qn_init()),
      "qn_init",
    );
  }

  get mem(): Uint8Array {
    return this.u8;
  }

  /** Host scratch bytes [scratchBase, scratchBase + SCRATCH.END) above the
   *  core's data: this class uses the first three areas, host/frame-codec.ts
   *  SCRATCH.WIRE. */
  get scratchBase(): number {
    return this.scratch;
  }

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

  /** Queue a frame. Returns the packet id used. */
  send(f: {
    type: number;
    flags?: number;
    codec?: number;
    channel?: number;
    packet?: number;
    payload?: Uint8Array;
  }): number {
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

  /** Frames in the inbox. */
  inboxCount(): number {
    return this.x.qn_inbox_count();
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

  counter(id: number): number {
    return this.x.qn_counter(id) >>> 0;
  }
  /** The session id as frame headers carry it: the 64-bit id folded to 32
   *  bits (session.ts). Its low 32 bits alone repeat every 1.024 s of the
   *  id's time part, so two sessions could not be told apart by them. */
  sessionWireId(): number {
    const id = BigInt.asUintN(64, this.x.qn_session_stat(SessionStat.ID));
    return Number((id ^ (id >> 32n)) & 0xffffffffn);
  }
  lastError(): number {
    return this.x.qn_last_error();
  }

  pool(i: number) {
    const s = (w: number) => this.x.qn_pool_stat(i, w) >>> 0;
    return {
      blockSize: s(PoolStat.BLOCK_SIZE),
      count: s(PoolStat.COUNT),
      inUse: s(PoolStat.IN_USE),
      highWater: s(PoolStat.HIGH_WATER),
      failures: s(PoolStat.FAILURES),
    };
  }

  get poolCount(): number {
    return this.x.qn_pool_count();
  }

  // ---- codecs over the field table ----

  private setFields(fields: Field[]): void {
    this.x.qn_msg_reset();
    let data = this.scratch + SCRATCH.FIELDS;
    const end = data + SCRATCH.AREA;
    for (const f of fields) {
      let st: number;
      if (f.kind === FieldKind.BYTES) {
        const b = bytesArg(
          f.bytes ?? new Uint8Array(0),
          end - data,
          `field ${f.tag}: bytes (all byte fields together at most ${SCRATCH.AREA})`,
        );
        this.u8.set(b, data);
        st = this.x.qn_msg_add(f.tag, f.kind, BigInt(data), b.length);
        data += b.length;
      } else {
        if (typeof f.value !== "bigint")
          throw new QnError(Status.ERR_ARG, `field ${f.tag}: value must be a bigint, not ${typeof f.value}`);
        st = this.x.qn_msg_add(f.tag, f.kind, BigInt.asUintN(64, f.value), 0);
      }
      check(st, `field ${f.tag}`);
    }
  }

  private getFields(): Field[] {
    const n = this.x.qn_msg_count();
    const out: Field[] = [];
    for (let i = 0; i < n; i++) {
      const kind = this.x.qn_msg_kind(i);
      const value = BigInt.asUintN(64, this.x.qn_msg_value(i));
      const f: Field = {
        tag: this.x.qn_msg_tag(i),
        kind,
        value: kind === FieldKind.SINT ? BigInt.asIntN(64, value) : value,
      };
      if (kind === FieldKind.BYTES) {
        const p = Number(value);
        f.bytes = this.u8.slice(p, p + (this.x.qn_msg_len(i) >>> 0));
        f.value = 0n;
      }
      out.push(f);
    }
    return out;
  }

  encode(codec: number, fields: Field[]): Uint8Array {
    this.setFields(fields);
    const n = check(
      this.call("qn_encode", () => this.x.qn_encode(codec, this.scratch + SCRATCH.OUT, SCRATCH.AREA)),
      "encode",
    );
    return this.u8.slice(this.scratch + SCRATCH.OUT, this.scratch + SCRATCH.OUT + n);
  }

  decode(codec: number, bytes: Uint8Array): Field[] {
    this.u8.set(bytesArg(bytes, SCRATCH.AREA, "decode: input"), this.scratch + SCRATCH.IN);
    check(
      this.call("qn_decode", () => this.x.qn_decode(codec, this.scratch + SCRATCH.IN, bytes.length)),
      "decode",
    );
    return this.getFields();
  }

  // ---- primitives, for tests and tools ----

  crc32c(bytes: Uint8Array): number {
    this.u8.set(bytesArg(bytes, SCRATCH.AREA, "crc32c: input"), this.scratch + SCRATCH.IN);
    return this.x.qn_crc32c(this.scratch + SCRATCH.IN, bytes.length) >>> 0;
  }

  cobsEncode(bytes: Uint8Array): Uint8Array {
    this.u8.set(bytesArg(bytes, SCRATCH.AREA, "cobs_encode: input"), this.scratch + SCRATCH.IN);
    const n = check(
      this.x.qn_cobs_encode(this.scratch + SCRATCH.IN, bytes.length, this.scratch + SCRATCH.OUT, SCRATCH.AREA),
      "cobs_encode",
    );
    return this.u8.slice(this.scratch + SCRATCH.OUT, this.scratch + SCRATCH.OUT + n);
  }

  cobsDecode(bytes: Uint8Array): Uint8Array {
    this.u8.set(bytesArg(bytes, SCRATCH.AREA, "cobs_decode: input"), this.scratch + SCRATCH.IN);
    const n = check(
      this.x.qn_cobs_decode(this.scratch + SCRATCH.IN, bytes.length, this.scratch + SCRATCH.OUT, SCRATCH.AREA),
      "cobs_decode",
    );
    return this.u8.slice(this.scratch + SCRATCH.OUT, this.scratch + SCRATCH.OUT + n);
  }
}

/** Load and initialise a core. */
export function loadCore(opts: LoadOptions = {}): QnCore {
  const core = new QnCore(loadModule(opts.wasmPath), opts);
  core.init();
  return core;
}
