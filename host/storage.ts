// Persistent storage for a core running on the host: the three storage
// imports over a flat region with NOR-flash rules (erase sets 0xFF, a write
// only clears bits), in memory or in a file written with fsync. The same
// rules as the device's flash, so a journal bug cannot hide on the host.
import { openSync, readSync, writeSync, fsyncSync, closeSync, ftruncateSync, fstatSync, constants } from "node:fs";
import { GroupSync } from "./group-sync.ts";
import { DirtySpan } from "./dirty-span.ts";
import { Status } from "./abi.ts";
import { FileError, kindOf, aOrAn } from "./bounded-read.ts";

export interface Storage {
  readonly size: number;
  read(off: number, dst: Uint8Array): number;
  write(off: number, src: Uint8Array): number;
  erase(off: number, len: number): number;
  /** Make every earlier write durable (group commit; see FileStorage). */
  sync?(): void;
  /** The same without blocking: resolves when every earlier write is durable. */
  syncAsync?(): Promise<void>;
  close?(): void;
}

const { ERR_STORAGE } = Status;

/** A RAM region with two ways to simulate a power cut:
 *  - `cutAfterBytes`: the write that crosses the limit is torn there and
 *    every later write fails;
 *  - `cutAtOp`: flash operation number `cutAtOp` (writes and erases,
 *    counted in `ops` from 0) is cut as `cutMode` says, "before" (it never
 *    happens) or "torn" (a write programs its first half, an erase clears
 *    the first half of its range), and every later operation fails.
 *  `powerLost` says a cut has happened; clear it by setting the limits
 *  back to Infinity (the next boot). */
export class MemoryStorage implements Storage {
  readonly data: Uint8Array;
  writtenBytes = 0;
  cutAfterBytes = Infinity;
  ops = 0;
  cutAtOp = Infinity;
  cutMode: "before" | "torn" = "torn";
  constructor(
    readonly size: number,
    fill?: Uint8Array,
  ) {
    this.data = fill ? fill : new Uint8Array(size).fill(0xff);
  }
  get powerLost(): boolean {
    return this.ops > this.cutAtOp || this.writtenBytes >= this.cutAfterBytes;
  }
  read(off: number, dst: Uint8Array): number {
    if (off < 0 || off + dst.length > this.size) return ERR_STORAGE;
    dst.set(this.data.subarray(off, off + dst.length));
    return 0;
  }
  /** How much of an operation of `n` units happens: all of it, part of it
   *  (the cut lands in it), or none (the power is gone). */
  private share(n: number): number {
    const k = this.ops++;
    if (k < this.cutAtOp) return n;
    return k === this.cutAtOp && this.cutMode === "torn" ? n >> 1 : 0;
  }
  write(off: number, src: Uint8Array): number {
    if (off < 0 || off + src.length > this.size) return ERR_STORAGE;
    const room = Math.min(this.cutAfterBytes - this.writtenBytes, this.share(src.length));
    if (room <= 0) return ERR_STORAGE;
    const n = Math.min(room, src.length);
    for (let i = 0; i < n; i++) this.data[off + i] &= src[i];
    this.writtenBytes += n;
    return n < src.length ? ERR_STORAGE : 0;
  }
  erase(off: number, len: number): number {
    if (off < 0 || off + len > this.size) return ERR_STORAGE;
    if (this.writtenBytes >= this.cutAfterBytes) return ERR_STORAGE;
    const n = this.share(len);
    this.data.fill(0xff, off, off + n);
    return n < len ? ERR_STORAGE : 0;
  }
}

/** A file of `size` bytes, mirrored in RAM (reads never touch the disk).
 *  By default every write and erase reaches the file and is flushed before
 *  it returns, so an acknowledged QoS 2 record survives a host crash. With
 *  `groupCommit` a write only changes the mirror and marks the range dirty;
 *  syncAsync() writes the dirty range in one call and flushes on the thread
 *  pool, one flush for a whole batch. The owner must wait for it before anything
 *  that depends on the writes leaves the host (Peer.flush does, before it
 *  writes a byte to the device), so every acknowledgement still follows its
 *  journal record to disk. */
export class FileStorage implements Storage {
  /** -1 while closed for idleness (closeWhenIdle). */
  private fd: number;
  private readonly path: string;
  private readonly closeWhenIdle: boolean;
  private ident!: { dev: number; ino: number };
  private closed = false;
  /** The file's bytes in RAM; undefined without a mirror (opts.mirror
   *  false): reads then come from the file, under the dirty span. */
  private readonly mirror?: Uint8Array;
  /** Without a mirror: the writes not yet flushed. */
  private dirty?: DirtySpan;
  /** With a mirror: the range the writes not yet flushed changed. */
  private dirtyLo = Infinity;
  private dirtyHi = 0;
  private readonly group: GroupSync;
  private readonly groupCommit: boolean;
  /** fsync calls made (for metrics and the benchmark). */
  get fsyncs(): number {
    return this.group.fsyncs;
  }
  /** A new file, or an empty one, is made `size` bytes of 0xFF. An existing
   *  file is taken only as it is: a regular file (not a symbolic link) of
   *  exactly `size` bytes whose contents `opts.accept` does not object to
   *  (it returns why not); anything else is refused with a FileError and
   *  left untouched, never truncated or formatted over. `opts.what` names
   *  the file in the messages ("journal file"). */
  constructor(
    path: string,
    readonly size: number,
    opts: {
      groupCommit?: boolean;
      what?: string;
      accept?: (image: Uint8Array) => string | undefined;
      /** Close the descriptor whenever everything is on disk, and open it
       *  again for the next write (the same file: device and inode are
       *  checked): a process with thousands of idle journals holds no
       *  descriptor for them. */
      closeWhenIdle?: boolean;
      /** Keep the file's bytes in RAM (the default). Without, a read is a
       *  pread under the unflushed writes, and RAM holds only the span
       *  written since the last flush: thousands of mostly idle journals
       *  do not each hold their size in RAM. */
      mirror?: boolean;
    } = {},
  ) {
    this.groupCommit = opts.groupCommit ?? false;
    this.path = path;
    this.closeWhenIdle = opts.closeWhenIdle ?? false;
    const what = opts.what ?? "storage file";
    try {
      this.fd = openSync(
        path,
        constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK,
        0o600,
      );
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ELOOP") throw new FileError(`${path} is a symbolic link, not ${aOrAn(what)}`, code);
      if (code === "EISDIR") throw new FileError(`${path} is a directory, not ${aOrAn(what)}`, code);
      throw e;
    }
    const image = new Uint8Array(size).fill(0xff);
    try {
      const st = fstatSync(this.fd);
      if (!st.isFile()) throw new FileError(`${path} is ${kindOf(st)}, not ${aOrAn(what)}`);
      if (st.size === 0) {
        ftruncateSync(this.fd, size);
        writeSync(this.fd, image, 0, size, 0);
        fsyncSync(this.fd);
      } else {
        if (st.size !== size)
          throw new FileError(
            `${path} is ${st.size} bytes, not ${aOrAn(what)} (${size} bytes): refusing to overwrite it`,
          );
        readSync(this.fd, image, 0, size, 0);
        const why = opts.accept?.(image);
        if (why) throw new FileError(`${path} ${why}, so it is not ${aOrAn(what)}: refusing to overwrite it`);
      }
      this.ident = { dev: st.dev, ino: st.ino };
      if (opts.mirror !== false) this.mirror = image;
      else
        this.dirty = new DirtySpan(size, (dst, at) => {
          readSync(this.fdNow(), dst, 0, dst.length, at);
        });
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
    this.group = new GroupSync(() => this.fdNow(), {
      writeNow: () => {
        const r = this.takeDirty();
        if (r) writeSync(this.fdNow(), r.bytes, 0, r.bytes.length, r.at);
      },
    });
    if (this.closeWhenIdle) this.idle();
  }
  /** The unflushed bytes (a copy, with a mirror) and where they go; a
   *  clean slate. */
  private takeDirty(): { at: number; bytes: Uint8Array } | null {
    if (this.dirty) return this.dirty.take();
    if (this.dirtyLo >= this.dirtyHi) return null;
    const r = { at: this.dirtyLo, bytes: this.mirror!.slice(this.dirtyLo, this.dirtyHi) };
    this.dirtyLo = Infinity;
    this.dirtyHi = 0;
    return r;
  }
  read(off: number, dst: Uint8Array): number {
    if (off < 0 || off + dst.length > this.size) return ERR_STORAGE;
    if (this.mirror) {
      dst.set(this.mirror.subarray(off, off + dst.length));
      return 0;
    }
    try {
      this.dirty!.read(off, dst);
    } catch {
      return ERR_STORAGE;
    }
    return 0;
  }
  write(off: number, src: Uint8Array): number {
    if (off < 0 || off + src.length > this.size) return ERR_STORAGE;
    if (this.mirror) for (let i = 0; i < src.length; i++) this.mirror[off + i] &= src[i];
    else
      try {
        this.dirty!.write(off, src);
      } catch {
        return ERR_STORAGE;
      }
    this.changed(off, off + src.length);
    return 0;
  }
  erase(off: number, len: number): number {
    if (off < 0 || off + len > this.size) return ERR_STORAGE;
    if (this.mirror) this.mirror.fill(0xff, off, off + len);
    else
      try {
        this.dirty!.erase(off, len);
      } catch {
        return ERR_STORAGE;
      }
    this.changed(off, off + len);
    return 0;
  }
  private changed(lo: number, hi: number): void {
    if (this.mirror) {
      this.dirtyLo = Math.min(this.dirtyLo, lo);
      this.dirtyHi = Math.max(this.dirtyHi, hi);
    }
    this.group.wrote();
    if (!this.groupCommit) this.group.syncNow();
  }
  sync(): void {
    this.group.syncNow();
    if (this.closeWhenIdle) this.idle();
  }
  syncAsync(): Promise<void> {
    const p = this.group.sync();
    if (this.closeWhenIdle)
      p.then(
        () => this.idle(),
        () => {},
      );
    return p;
  }
  /** The descriptor, opened again if it was closed for idleness; throws
   *  when the path is no longer the file this storage was opened on. */
  private fdNow(): number {
    if (this.fd >= 0) return this.fd;
    if (this.closed) throw new FileError(`${this.path}: storage closed`);
    const fd = openSync(this.path, constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (st.dev !== this.ident.dev || st.ino !== this.ident.ino) {
      closeSync(fd);
      throw new FileError(`${this.path} was replaced by another file: not writing to it`);
    }
    this.fd = fd;
    return fd;
  }
  /** Close the descriptor if nothing is waiting for it. */
  private idle(): void {
    if (this.fd < 0 || !this.group.clean || this.group.busy) return;
    closeSync(this.fd);
    this.fd = -1;
  }
  /** Whatever is still queued goes to disk first. */
  close(): void {
    this.group.close(() => {
      this.closed = true;
      if (this.fd >= 0) closeSync(this.fd);
      this.fd = -1;
    });
  }
}
