// The Node loader of the QN core: instantiates the same build/qn.wasm the
// device runs, supplies its imports, and wraps the Wasm ABI in a typed API.
// Negative statuses become QnError; a trap inside the core (a bug) becomes
// a QnError with ERR_TRAP and the core is marked unusable until init().
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, QnError, Status, check } from "./status.ts";
import { HEADER_SIZE, parseHeader, type Frame } from "./frame.ts";
import { randomFillSync } from "node:crypto";
import { MemoryStorage, type Storage } from "./storage.ts";

export const Kind = { UINT: 0, SINT: 1, BYTES: 2, FIXED32: 3, FIXED64: 4 } as const;

export interface Field { tag: number; kind: number; value: bigint; bytes?: Uint8Array }

export interface LoadOptions {
  wasmPath?: string;
  /** Receives the core's log lines (debug builds). */
  log?: (level: number, msg: string) => void;
  /** Persistent storage for the journal (default: 64 KiB in memory). */
  storage?: Storage;
  /** Entropy source (default: the OS's, through node:crypto). */
  entropy?: (dst: Uint8Array) => void;
}

interface Exports {
  memory: WebAssembly.Memory;
  [name: string]: any;
}

export const DEFAULT_WASM = join(ROOT, "build/qn.wasm");

export function loadModule(path = DEFAULT_WASM): WebAssembly.Module {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new Error(`QN core not built: ${path} is missing (run \`make core\`)`);
  }
  return new WebAssembly.Module(bytes);
}

export class QnCore {
  readonly x: Exports;
  private u8: Uint8Array;
  private dv: DataView;
  /** Host-only scratch above the core's static data: the core never touches
   *  memory past __heap_base (stub runtime, no allocation). */
  private readonly scratch: number;
  private broken = false;

  storage: Storage;

  constructor(module: WebAssembly.Module, opts: LoadOptions = {}) {
    let self: QnCore | undefined;
    this.storage = opts.storage ?? new MemoryStorage(64 * 1024);
    const entropy = opts.entropy ?? ((d: Uint8Array) => { randomFillSync(d); });
    const imports = {
      env: {
        qn_storage_read: (off: number, ptr: number, len: number) => this.storage.read(off >>> 0, self!.u8.subarray(ptr, ptr + len)),
        qn_storage_write: (off: number, ptr: number, len: number) => this.storage.write(off >>> 0, self!.u8.subarray(ptr, ptr + len)),
        qn_storage_erase: (off: number, len: number) => this.storage.erase(off >>> 0, len >>> 0),
        qn_entropy: (ptr: number, len: number) => { entropy(self!.u8.subarray(ptr, ptr + len)); return 0; },
        qn_log: (level: number, ptr: number, len: number) => {
          const msg = Buffer.from(self!.u8.subarray(ptr, ptr + len)).toString("utf8");
          opts.log?.(level, msg);
        },
        qn_panic: (line: number, col: number) => {
          throw new QnError(Status.ERR_TRAP, `core panic at assembly line ${line}:${col}`);
        },
      },
    };
    const inst = new WebAssembly.Instance(module, imports);
    self = this;
    this.x = inst.exports as unknown as Exports;
    this.u8 = new Uint8Array(this.x.memory.buffer);
    this.dv = new DataView(this.x.memory.buffer);
    this.scratch = (this.x.qn_heap_base() + 15) & ~15;
    if (this.scratch + 16384 > this.u8.length) throw new Error("QN core: no room for host scratch");
  }

  /** Call into the core; a trap becomes QnError(ERR_TRAP). */
  private call<T>(what: string, f: () => T): T {
    if (this.broken) throw new QnError(Status.ERR_TRAP, `${what}: core trapped earlier; call init()`);
    try {
      return f();
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) {
        this.broken = true;
        throw new QnError(Status.ERR_TRAP, `${what}: ${e.message}`);
      }
      throw e;
    }
  }

  init(): void {
    this.broken = false;
    check(this.call("qn_init", () => this.x.qn_init()), "qn_init");
  }

  get mem(): Uint8Array { return this.u8; }

  /** Feed received bytes (any length); returns valid frames completed. */
  rx(bytes: Uint8Array): number {
    const buf = this.x.qn_rx_buf(), cap = this.x.qn_rx_cap();
    let frames = 0;
    for (let off = 0; off < bytes.length; off += cap) {
      const chunk = bytes.subarray(off, Math.min(off + cap, bytes.length));
      this.u8.set(chunk, buf);
      frames += check(this.call("qn_rx", () => this.x.qn_rx(chunk.length)), "qn_rx");
    }
    return frames;
  }

  tick(nowUs: bigint | number): void {
    this.call("qn_tick", () => this.x.qn_tick(BigInt(nowUs)));
  }

  /** Pull up to `max` bytes for the wire (all queued bytes by default). */
  pull(max = Infinity): Uint8Array {
    const buf = this.x.qn_tx_buf(), cap = this.x.qn_tx_cap();
    const parts: Uint8Array[] = [];
    let total = 0;
    while (total < max) {
      const n = this.call("qn_tx_pull", () => this.x.qn_tx_pull(Math.min(cap, max - total)));
      if (n <= 0) break;
      parts.push(this.u8.slice(buf, buf + n));
      total += n;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /** Queue a frame. Returns the packet id used. */
  send(f: { type: number; flags?: number; codec?: number; channel?: number; packet?: number; payload?: Uint8Array }): number {
    const payload = f.payload ?? new Uint8Array(0);
    const max = this.x.qn_max_payload();
    if (payload.length > max) throw new QnError(Status.ERR_OVERSIZE, `send: payload of ${payload.length} bytes > ${max}`);
    const app = this.x.qn_app_buf();
    this.u8.set(payload, app + HEADER_SIZE);
    const packet = f.packet ?? this.x.qn_next_packet();
    check(this.call("qn_send", () => this.x.qn_send(f.type, f.flags ?? 1, f.codec ?? 0, f.channel ?? 0, packet, payload.length)), "qn_send");
    return packet >>> 0;
  }

  /** Frames in the inbox. */
  inboxCount(): number { return this.x.qn_inbox_count(); }

  /** The i-th oldest inbox frame, left in the inbox (inboxPop takes it and,
   *  for QoS 2, journals it as delivered). */
  inboxPeek(i: number): Frame | null {
    const n = this.call("qn_inbox_peek", () => this.x.qn_inbox_peek(i));
    if (n <= 0) return null;
    const app = this.x.qn_app_buf();
    const raw = this.u8.slice(app, app + n);
    return { ...parseHeader(raw), payload: raw.subarray(HEADER_SIZE) };
  }

  /** The oldest frame the core handed to the application, or null. */
  inboxPop(): Frame | null {
    const n = this.call("qn_inbox_pop", () => this.x.qn_inbox_pop());
    if (n <= 0) return null;
    const app = this.x.qn_app_buf();
    const raw = this.u8.slice(app, app + n);
    return { ...parseHeader(raw), payload: raw.subarray(HEADER_SIZE) };
  }

  counter(id: number): number { return this.x.qn_counter(id) >>> 0; }
  lastError(): number { return this.x.qn_last_error(); }

  pool(i: number) {
    const s = (w: number) => this.x.qn_pool_stat(i, w) >>> 0;
    return { blockSize: s(0), count: s(1), inUse: s(2), highWater: s(3), failures: s(4) };
  }

  get poolCount(): number { return this.x.qn_pool_count(); }

  // ---- codecs over the field table ----

  private setFields(fields: Field[]): void {
    this.x.qn_msg_reset();
    let data = this.scratch + 8192;
    for (const f of fields) {
      let st: number;
      if (f.kind === Kind.BYTES) {
        const b = f.bytes ?? new Uint8Array(0);
        this.u8.set(b, data);
        st = this.x.qn_msg_add(f.tag, f.kind, BigInt(data), b.length);
        data += b.length;
      } else {
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
      const f: Field = { tag: this.x.qn_msg_tag(i), kind, value: kind === Kind.SINT ? BigInt.asIntN(64, value) : value };
      if (kind === Kind.BYTES) {
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
    const n = check(this.call("qn_encode", () => this.x.qn_encode(codec, this.scratch, 4096)), "encode");
    return this.u8.slice(this.scratch, this.scratch + n);
  }

  decode(codec: number, bytes: Uint8Array): Field[] {
    if (bytes.length > 4096) throw new QnError(Status.ERR_OVERSIZE, "decode: input over 4096 bytes");
    this.u8.set(bytes, this.scratch + 4096);
    check(this.call("qn_decode", () => this.x.qn_decode(codec, this.scratch + 4096, bytes.length)), "decode");
    return this.getFields();
  }

  // ---- primitives, for tests and tools ----

  crc32c(bytes: Uint8Array): number {
    this.u8.set(bytes, this.scratch);
    return this.x.qn_crc32c(this.scratch, bytes.length) >>> 0;
  }

  cobsEncode(bytes: Uint8Array): Uint8Array {
    this.u8.set(bytes, this.scratch);
    const n = check(this.x.qn_cobs_encode(this.scratch, bytes.length, this.scratch + 4096, 4096), "cobs_encode");
    return this.u8.slice(this.scratch + 4096, this.scratch + 4096 + n);
  }

  cobsDecode(bytes: Uint8Array): Uint8Array {
    this.u8.set(bytes, this.scratch);
    const n = check(this.x.qn_cobs_decode(this.scratch, bytes.length, this.scratch + 4096, 4096), "cobs_decode");
    return this.u8.slice(this.scratch + 4096, this.scratch + 4096 + n);
  }
}

/** Load and initialise a core. */
export function loadCore(opts: LoadOptions = {}): QnCore {
  const core = new QnCore(loadModule(opts.wasmPath), opts);
  core.init();
  return core;
}
