// QnCore: the typed face of one QN core on the host, the same build/qn.wasm
// the device runs. CoreInstance (host/core-instance.ts) loads it and runs
// the data path; this class adds the session, the journal, the figures,
// what a shell tells the core about its board, and the codecs. Every
// selector and key is a named constant of host/abi.ts (SessionStat.STATE,
// ConfigKey.HEARTBEAT_MS, ...); the Wasm export table stays private.
// Negative statuses become QnError; trySetConfig and tryPublish return the
// core's refusal instead, for callers that act on it.
import { QnError, Status, check } from "./status.ts";
import { HEADER_SIZE, type Frame, type FrameFields } from "./frame.ts";
import {
  Codec,
  ConfigKey,
  type Counter,
  type EventType,
  type JournalStat,
  PoolStat,
  Prio,
  type QosStat,
  type SchedStat,
  SessionStat,
  SessionState,
} from "./abi.ts";
import { copyOut } from "./out-pool.ts";
import { byteArg, bytesArg, frameFieldArgs, intArg } from "./args.ts";
import { CoreInstance, SCRATCH, sharedModule, type LoadOptions } from "./core-instance.ts";
import { type Field, putFields, takeFields } from "./core-fields.ts";

export { DEFAULT_WASM, loadModule, sharedModule, type LoadOptions } from "./core-instance.ts";

/** A config key as an error names it: its name and number (HEARTBEAT_MS (2)). */
function configName(key: number): string {
  const name = Object.entries(ConfigKey).find(([, v]) => v === key)?.[0];
  return name ? `${name} (${key})` : String(key);
}
export type { Field } from "./core-fields.ts";

const U32_MAX = 0xffffffff;
/** Key bytes the core takes at most (its KEY area, assembly/session.ts). */
const KEY_MAX_BYTES = 32;
/** Entries of the core's ring of backoff waits (BACKOFF_LOG, assembly/session.ts). */
const BACKOFF_RING = 8;

export class QnCore extends CoreInstance {
  // ---- the session ----

  /** Client role: start a handshake now instead of waiting for the backoff
   *  timer. */
  connect(): void {
    check(
      this.call("qn_connect", () => this.x.qn_connect()),
      "connect",
    );
  }

  /** Drop the session (the link is known to be gone); a client reconnects
   *  with backoff. */
  disconnect(): void {
    this.call("qn_disconnect", () => this.x.qn_disconnect());
  }

  /** The shell stops (true) or resumes (false) reading the link on purpose
   *  (backpressure): the peer's silence then does not take the session
   *  down, and the heartbeat window starts again on resume. */
  holdRx(held: boolean): void {
    this.call("qn_hold_rx", () => this.x.qn_hold_rx(held ? 1 : 0));
  }

  /** Set the pre-shared key (1..32 bytes); it is wiped from the staging
   *  area afterwards and never leaves the core. */
  setKey(key: Uint8Array): void {
    // Checked before the copy into the core's memory, so a longer key
    // cannot overwrite what follows its staging area.
    if (!(key instanceof Uint8Array) || key.length < 1 || key.length > KEY_MAX_BYTES)
      throw new QnError(
        Status.ERR_ARG,
        `key must be 1..${KEY_MAX_BYTES} bytes, not ${key instanceof Uint8Array ? key.length : typeof key}`,
      );
    const st = this.staged(key, "key", (at) => this.x.qn_set_key(at, key.length));
    if (st !== 0) throw new QnError(st, "key");
  }

  /** Forget the pre-shared key: a WELCOME naming a key id then waits for
   *  setKey() and the same WELCOME again (Status.ERR_NO_KEY). */
  forgetKey(): void {
    this.x.qn_forget_key();
  }

  /** The key id the server named in its WELCOME (0: none). */
  peerKeyId(): number {
    return Number(this.x.qn_session_stat(SessionStat.PEER_KEY_ID));
  }

  /** Provision this device's key id in the gateway's registry (sent in
   *  WELCOME; 0: none). */
  setKeyId(id: number): void {
    intArg(id, 0, U32_MAX, "key id");
    this.x.qn_set_key_id(id >>> 0);
  }

  /** Set config `key` to `value`; a value the core refuses is a QnError. */
  setConfig(key: ConfigKey, value: number): void {
    const st = this.trySetConfig(key, value);
    if (st !== 0) throw new QnError(st, `config ${configName(key)} = ${value}`);
  }

  /** setConfig(), with the core's refusal returned as a negative Status
   *  (Status.OK when applied): the core checks each value against the
   *  others (a backoff base above the cap is refused), so a caller restoring
   *  several in some order may see one refused and set it again. */
  trySetConfig(key: ConfigKey, value: number): number {
    intArg(value, 0, U32_MAX, `config ${configName(key)}: value`);
    return this.call("qn_config_set", () => this.x.qn_config_set(key, value));
  }

  /** Config `key`'s value (0 for an unknown key). */
  getConfig(key: ConfigKey): number {
    return this.x.qn_config_get(key) >>> 0;
  }

  /** Session figure `what`; 0 for an unknown one. */
  sessionStat(what: SessionStat): bigint {
    return this.x.qn_session_stat(what);
  }

  /** The session's state (SessionState). */
  sessionState(): SessionState {
    return Number(this.x.qn_session_stat(SessionStat.STATE)) as SessionState;
  }

  /** Whether a session is up. */
  sessionUp(): boolean {
    return this.sessionState() === SessionState.UP;
  }

  /** The session id as frame headers carry it: the 64-bit id folded to 32
   *  bits (session.ts). Its low 32 bits alone repeat every 1.024 s of the
   *  id's time part, so two sessions could not be told apart by them. */
  sessionWireId(): number {
    const id = BigInt.asUintN(64, this.x.qn_session_stat(SessionStat.ID));
    return Number((id ^ (id >> 32n)) & 0xffffffffn);
  }

  /** The i-th entry of the core's ring of the last 8 backoff waits
   *  (index = count mod 8): the wait in ms and the attempt it was for
   *  (1 = first retry). */
  backoff(i: number): { waitMs: number; attempt: number } {
    intArg(i, 0, BACKOFF_RING - 1, "backoff: index");
    return { waitMs: this.x.qn_backoff_log(i) >>> 0, attempt: this.x.qn_backoff_attempt(i) >>> 0 };
  }

  // ---- the journal ----

  /** Open the journal over `size` bytes of the storage (two halves) and
   *  recover the QoS 2 state it holds. */
  journalOpen(size: number): void {
    intArg(size, 0, U32_MAX, "journal: size");
    check(
      this.call("qn_journal_open", () => this.x.qn_journal_open(size)),
      "journal",
    );
  }

  /** Journal figure `what`; 0 for an unknown one. */
  journalStat(what: JournalStat): number {
    return this.x.qn_journal_stat(what) >>> 0;
  }

  // ---- figures ----

  /** QoS figure `what`; 0 for an unknown one. */
  qosStat(what: QosStat): number {
    return this.x.qn_qos_stat(what) >>> 0;
  }

  /** Scheduler figure `what`; 0 for an unknown one. */
  schedStat(what: SchedStat): number {
    return this.x.qn_sched_stat(what) >>> 0;
  }

  /** Event counter `id` (wraps at 2^32; 0 for an unknown id). */
  counter(id: Counter): number {
    return this.x.qn_counter(id) >>> 0;
  }

  /** Status of the last frame the decoder rejected. */
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

  /** Build id of the core (hash of its sources, also in the manifest). */
  buildId(): number {
    return this.x.qn_build_id() >>> 0;
  }

  /** Bitmask of the features built in (bit Feature.X). */
  features(): number {
    return this.x.qn_features() >>> 0;
  }

  /** Bitmask of the payload codecs built in (bit n = Codec n). */
  codecs(): number {
    return this.x.qn_codecs() >>> 0;
  }

  /** A fresh 64-bit id (ms time, node, sequence), unique and increasing. */
  idNext(): bigint {
    return BigInt.asUintN(64, this.x.qn_id_next());
  }

  // ---- what a shell tells the core about its board ----

  /** The board: clock in Hz (0: not a hardware target), linear memory
   *  bytes, platform name (at most maxPayload bytes of UTF-8). */
  boardInfo(clockHz: number, memBytes: number, name: string): void {
    intArg(clockHz, 0, U32_MAX, "boardInfo: clockHz");
    intArg(memBytes, 0, U32_MAX, "boardInfo: memBytes");
    const b = new TextEncoder().encode(name);
    this.staged(b, "boardInfo: name", (at) => this.x.qn_board_info(clockHz, memBytes, at, b.length));
  }

  /** The CRC-32C and length of the firmware image as measured. */
  boardImage(crc: number, len: number): void {
    this.x.qn_board_image(intArg(crc, 0, U32_MAX, "boardImage: crc"), intArg(len, 0, U32_MAX, "boardImage: len"));
  }

  /** The stack high-water mark and size in bytes. */
  boardStack(used: number, size: number): void {
    this.x.qn_board_stack(intArg(used, 0, U32_MAX, "boardStack: used"), intArg(size, 0, U32_MAX, "boardStack: size"));
  }

  /** A trap the shell caught and recovered from (counted, in the identity). */
  boardTrap(): void {
    this.x.qn_board_trap();
  }

  /** Record a board event in the device event log (EventType.TRAP with the
   *  trap code, EventType.BOOT with the reset cause). */
  event(type: EventType, code: number): void {
    this.x.qn_event(byteArg(type, "event: type"), intArg(code, -0x80000000, 0x7fffffff, "event: code"));
  }

  // ---- codecs and primitives ----

  /** `fields` in codec `codec` (a Codec, or the id a frame header carries;
   *  one not built in is a QnError). */
  encode(codec: number, fields: Field[]): Uint8Array {
    putFields(this.x, this.u8, this.scratch + SCRATCH.FIELDS, SCRATCH.AREA, fields);
    const n = check(
      this.call("qn_encode", () => this.x.qn_encode(codec, this.scratch + SCRATCH.OUT, SCRATCH.AREA)),
      "encode",
    );
    return this.u8.slice(this.scratch + SCRATCH.OUT, this.scratch + SCRATCH.OUT + n);
  }

  /** The fields of `bytes` in codec `codec` (as for encode). */
  decode(codec: number, bytes: Uint8Array): Field[] {
    this.u8.set(bytesArg(bytes, SCRATCH.AREA, "decode: input"), this.scratch + SCRATCH.IN);
    check(
      this.call("qn_decode", () => this.x.qn_decode(codec, this.scratch + SCRATCH.IN, bytes.length)),
      "decode",
    );
    return takeFields(this.x, this.u8);
  }

  /** The wire bytes of one frame (COBS, 0x00-terminated), through the
   *  pure frame codec: no session, queue or journal. */
  frameEncode(h: FrameFields, payload: Uint8Array): Uint8Array {
    bytesArg(payload, this.maxPayload, "frame encode: payload");
    frameFieldArgs(h, "frame encode");
    this.u8.set(payload, this.appBuf + HEADER_SIZE);
    this.live("frame encode");
    const wire = this.scratch + SCRATCH.WIRE;
    let n: number;
    try {
      n = this.x.qn_frame_encode(
        h.type,
        h.flags ?? Prio.BULK,
        h.codec ?? Codec.NONE,
        h.channel ?? 0,
        h.packet ?? 0,
        payload.length,
        wire,
        SCRATCH.AREA,
      );
    } catch (e) {
      throw this.trapped("frame encode", e);
    }
    if (n < 0) throw new QnError(n, "frame encode");
    return copyOut(this.u8, wire, n);
  }

  /** Header and payload of one wire frame; QnError with the link's status
   *  (ERR_CRC, ERR_TRUNCATED, ERR_OVERSIZE, ...) for a bad one. */
  frameDecode(bytes: Uint8Array): Frame {
    bytesArg(bytes, SCRATCH.AREA, "frame decode: input");
    const wire = this.scratch + SCRATCH.WIRE;
    this.u8.set(bytes, wire);
    this.live("frame decode");
    let n: number;
    try {
      n = this.x.qn_frame_decode(wire, bytes.length);
    } catch (e) {
      throw this.trapped("frame decode", e);
    }
    if (n < 0) throw new QnError(n, "frame decode");
    return this.frameAt(this.appBuf, HEADER_SIZE + n);
  }

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
  const core = new QnCore(sharedModule(opts.wasmPath), opts);
  core.init();
  return core;
}
