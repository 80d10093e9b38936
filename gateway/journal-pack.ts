// The journals of a fleet's devices in one file (fleet.journal_pack), a
// slot per device. A flush round then makes every device's journal durable
// with one fdatasync instead of one per device: the kernel's cost of an
// fdatasync is per call much more than per byte, and a busy QoS 2 round
// touches the journal of every device that sent in it.
//
// Layout: a FILE_HEAD-byte head ("QNJPACK1", the journal size, a CRC-32),
// then slots of SLOT_HEAD + JOURNAL_BYTES bytes. A slot's head names its
// device ("QNJS", name length, UTF-8 name, CRC-32); a slot whose head is
// anything else is free (a head is written in one piece, never in place
// of another: a torn one names nobody, and nothing acknowledged depended
// on it, since the slot's first flush had not finished). A new slot is
// appended whole; a file whose tail is a partial slot (a crash while it
// was appended, before any flush covered it) loses that tail at open.
// The journal in a slot follows the same NOR rules as a journal file.
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  fsyncSync,
  openSync,
  readSync,
  renameSync,
  writeSync,
} from "node:fs";
import { crc32 } from "node:zlib";
import { GroupSync } from "../host/group-sync.ts";
import { DirtySpan } from "../host/dirty-span.ts";
import { FileError, aOrAn, kindOf } from "../host/bounded-read.ts";
import { OwnerLock } from "../host/owner-lock.ts";
import { Status } from "../host/abi.ts";
import type { Storage } from "../host/storage.ts";
import { journalImageProblem } from "../host/journal-image.ts";
import { JOURNAL_BYTES, timedSync } from "./journal-file.ts";

const FILE_HEAD = 512;
const SLOT_HEAD = 512;
const SLOT_BYTES = SLOT_HEAD + JOURNAL_BYTES;
const FILE_MAGIC = Buffer.from("QNJPACK1");
const SLOT_MAGIC = Buffer.from("QNJS");
/** Longest device name a slot head holds (UTF-8 bytes). */
const NAME_MAX = SLOT_HEAD - SLOT_MAGIC.length - 2 - 4;
const WHAT = "journal pack";
const { ERR_STORAGE } = Status;

function fileHead(): Buffer {
  const b = Buffer.alloc(FILE_HEAD);
  FILE_MAGIC.copy(b, 0);
  b.writeUInt32LE(JOURNAL_BYTES, 8);
  b.writeUInt32LE(crc32(b.subarray(0, 12)), 12);
  return b;
}

function slotHead(name: string): Buffer {
  const n = Buffer.from(name);
  if (n.length > NAME_MAX) throw new FileError(`device id "${name.slice(0, 40)}..." is too long for a ${WHAT} slot`);
  const b = Buffer.alloc(SLOT_HEAD, 0xff);
  SLOT_MAGIC.copy(b, 0);
  b.writeUInt16LE(n.length, 4);
  n.copy(b, 6);
  b.writeUInt32LE(crc32(b.subarray(0, 6 + n.length)), 6 + n.length);
  return b;
}

/** The device a slot head names, or undefined for a free slot. */
function nameOf(h: Buffer): string | undefined {
  if (!h.subarray(0, 4).equals(SLOT_MAGIC)) return undefined;
  const len = h.readUInt16LE(4);
  if (len > NAME_MAX || h.readUInt32LE(6 + len) !== crc32(h.subarray(0, 6 + len))) return undefined;
  return h.toString("utf8", 6, 6 + len);
}

export class JournalPack {
  private readonly fd: number;
  private readonly lock: OwnerLock;
  private readonly slots = new Map<string, PackSlot>();
  /** Slot indexes by device, and the free ones. */
  private readonly index = new Map<string, number>();
  private readonly free: number[] = [];
  private count = 0;
  private readonly dirty = new Set<PackSlot>();
  readonly group: GroupSync;

  /** Opens (or makes) the pack at `path` and takes it for this process;
   *  throws a FileError for a file that is not a pack (left as it is). */
  constructor(readonly path: string) {
    this.lock = OwnerLock.take(path, WHAT);
    try {
      this.fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    } catch (e) {
      this.lock.release();
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ELOOP") throw new FileError(`${path} is a symbolic link, not ${aOrAn(WHAT)}`, code);
      throw e;
    }
    try {
      this.load();
    } catch (e) {
      closeSync(this.fd);
      this.lock.release();
      throw e;
    }
    this.group = new GroupSync(() => this.fd, {
      writeNow: () => {
        for (const s of this.dirty) {
          const r = s.span.take();
          if (r) writeSync(this.fd, r.bytes, 0, r.bytes.length, s.base + r.at);
        }
        this.dirty.clear();
      },
    });
  }

  private load(): void {
    const st = fstatSync(this.fd);
    if (!st.isFile()) throw new FileError(`${this.path} is ${kindOf(st)}, not ${aOrAn(WHAT)}`);
    if (st.size === 0) {
      writeSync(this.fd, fileHead(), 0, FILE_HEAD, 0);
      fsyncSync(this.fd);
      return;
    }
    const head = Buffer.alloc(FILE_HEAD);
    readSync(this.fd, head, 0, FILE_HEAD, 0);
    if (st.size < FILE_HEAD || !head.equals(fileHead()))
      throw new FileError(`${this.path} is not ${aOrAn(WHAT)} of this version: refusing to overwrite it`);
    this.count = Math.floor((st.size - FILE_HEAD) / SLOT_BYTES);
    if (FILE_HEAD + this.count * SLOT_BYTES !== st.size) ftruncateSync(this.fd, FILE_HEAD + this.count * SLOT_BYTES);
    const h = Buffer.alloc(SLOT_HEAD);
    for (let i = 0; i < this.count; i++) {
      readSync(this.fd, h, 0, SLOT_HEAD, this.base(i));
      const name = nameOf(h);
      if (name === undefined || this.index.has(name)) this.free.push(i);
      else this.index.set(name, i);
    }
  }

  private base(i: number): number {
    return FILE_HEAD + i * SLOT_BYTES;
  }

  /** Devices with a slot. */
  get devices(): string[] {
    return [...this.index.keys()];
  }

  get fsyncs(): number {
    return this.group.fsyncs;
  }

  /** The journal of `device` (a new slot the first time). `legacy`: the
   *  path of the device's own journal file, if it had one before the pack:
   *  a new slot takes its contents, and the file is renamed
   *  "<legacy>.imported" once they are on disk. `flushed` hears how long
   *  each group commit kept its caller waiting. */
  slot(device: string, legacy?: string, flushed?: (seconds: number) => void): PackSlot {
    const have = this.slots.get(device);
    if (have) return have;
    let i = this.index.get(device);
    const image = i === undefined && legacy ? readLegacy(legacy) : undefined;
    if (i === undefined) i = this.claim(device);
    const s = new PackSlot(this, this.base(i), flushed);
    this.slots.set(device, s);
    if (image) {
      s.write(0, image);
      this.group.syncNow();
      renameSync(legacy!, `${legacy}.imported`);
    }
    return s;
  }

  /** A slot for `device`, written whole (head, then the journal erased):
   *  a free one, or a new one appended. Durable with the next flush. */
  private claim(device: string): number {
    const whole = Buffer.alloc(SLOT_BYTES, 0xff);
    slotHead(device).copy(whole, 0);
    const i = this.free.shift() ?? this.count++;
    writeSync(this.fd, whole, 0, SLOT_BYTES, this.base(i));
    this.group.wrote();
    this.index.set(device, i);
    return i;
  }

  readAt(dst: Uint8Array, at: number): void {
    readSync(this.fd, dst, 0, dst.length, at);
  }

  changed(s: PackSlot): void {
    this.dirty.add(s);
    this.group.wrote();
  }

  /** Whatever is still queued goes to disk first. */
  close(): void {
    this.group.close(() => {
      closeSync(this.fd);
      this.lock.release();
    });
  }
}

/** A device's journal file from before the pack, as one image; refused
 *  (FileError) if it is not a journal. */
function readLegacy(path: string): Uint8Array | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size !== JOURNAL_BYTES)
      throw new FileError(`${path} is not a journal file (${JOURNAL_BYTES} bytes): not importing it into the ${WHAT}`);
    const image = new Uint8Array(JOURNAL_BYTES);
    readSync(fd, image, 0, JOURNAL_BYTES, 0);
    const why = journalImageProblem(image);
    if (why) throw new FileError(`${path} ${why}: not importing it into the ${WHAT}`);
    return image;
  } finally {
    closeSync(fd);
  }
}

/** One device's journal in the pack. Nothing of it is kept in RAM but the
 *  writes since the last flush. */
export class PackSlot implements Storage {
  readonly size = JOURNAL_BYTES;
  readonly span: DirtySpan;

  constructor(
    private readonly pack: JournalPack,
    readonly base: number,
    private readonly flushed?: (seconds: number) => void,
  ) {
    // The span covers the whole slot (its head included: the pack writes
    // spans at `base`); the journal starts SLOT_HEAD in.
    this.span = new DirtySpan(SLOT_BYTES, (dst, at) => pack.readAt(dst, base + at), SLOT_HEAD);
  }

  get fsyncs(): number {
    return this.pack.fsyncs;
  }

  read(off: number, dst: Uint8Array): number {
    if (off < 0 || off + dst.length > this.size) return ERR_STORAGE;
    return this.guard(() => this.span.read(SLOT_HEAD + off, dst));
  }
  write(off: number, src: Uint8Array): number {
    if (off < 0 || off + src.length > this.size) return ERR_STORAGE;
    return this.changed(this.guard(() => this.span.write(SLOT_HEAD + off, src)));
  }
  erase(off: number, len: number): number {
    if (off < 0 || off + len > this.size) return ERR_STORAGE;
    return this.changed(this.guard(() => this.span.erase(SLOT_HEAD + off, len)));
  }
  private changed(status: number): number {
    if (status === 0) this.pack.changed(this);
    return status;
  }
  private guard(op: () => void): number {
    try {
      op();
    } catch {
      return ERR_STORAGE;
    }
    return 0;
  }
  sync(): void {
    this.pack.group.syncNow();
  }
  syncAsync(): Promise<void> {
    return timedSync(
      () => this.pack.group.sync(),
      () => this.pack.fsyncs,
      this.flushed,
    );
  }
  /** The pack stays open for the other devices. */
  close(): void {}
}
