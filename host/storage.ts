// Persistent storage for a core running on the host: the three storage
// imports over a flat region with NOR-flash rules (erase sets 0xFF, a write
// only clears bits), in memory or in a file written with fsync. The same
// rules as the device's flash, so a journal bug cannot hide on the host.
import { openSync, readSync, writeSync, fsyncSync, closeSync, existsSync, ftruncateSync, fstatSync } from "node:fs";
import { GroupSync } from "./group-sync.ts";

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

const ERR_STORAGE = -13;

/** A RAM region; `cutAfterBytes` simulates a power cut: the write that
 *  crosses the limit is torn there and every later write fails. */
export class MemoryStorage implements Storage {
  readonly data: Uint8Array;
  writtenBytes = 0;
  cutAfterBytes = Infinity;
  constructor(readonly size: number, fill?: Uint8Array) {
    this.data = fill ? fill : new Uint8Array(size).fill(0xff);
  }
  read(off: number, dst: Uint8Array): number {
    if (off < 0 || off + dst.length > this.size) return ERR_STORAGE;
    dst.set(this.data.subarray(off, off + dst.length));
    return 0;
  }
  write(off: number, src: Uint8Array): number {
    if (off < 0 || off + src.length > this.size) return ERR_STORAGE;
    const room = this.cutAfterBytes - this.writtenBytes;
    if (room <= 0) return ERR_STORAGE;
    const n = Math.min(room, src.length);
    for (let i = 0; i < n; i++) this.data[off + i] &= src[i];
    this.writtenBytes += n;
    return n < src.length ? ERR_STORAGE : 0;
  }
  erase(off: number, len: number): number {
    if (off < 0 || off + len > this.size) return ERR_STORAGE;
    if (this.writtenBytes >= this.cutAfterBytes) return ERR_STORAGE;
    this.data.fill(0xff, off, off + len);
    return 0;
  }
}

/** A file of `size` bytes. By default every write and erase is fsync'd
 *  before it returns, so an acknowledged QoS 2 record survives a host
 *  crash. With `groupCommit` writes reach the page cache only and sync()
 *  makes them durable with one fsync: the owner must call sync() before
 *  anything that depends on them leaves the host (Peer.flush does, before
 *  it writes a byte to the device), so every acknowledgement still follows
 *  its journal record to disk, and one fsync covers a whole batch. */
export class FileStorage implements Storage {
  private fd: number;
  private readonly group = new GroupSync(() => this.fd);
  private readonly groupCommit: boolean;
  /** fsync calls made (for metrics and the benchmark). */
  get fsyncs(): number { return this.group.fsyncs; }
  constructor(path: string, readonly size: number, opts: { groupCommit?: boolean } = {}) {
    this.groupCommit = opts.groupCommit ?? false;
    const fresh = !existsSync(path);
    this.fd = openSync(path, fresh ? "w+" : "r+");
    if (fresh || fstatSync(this.fd).size !== size) {
      ftruncateSync(this.fd, size);
      writeSync(this.fd, new Uint8Array(size).fill(0xff), 0, size, 0);
      fsyncSync(this.fd);
    }
  }
  read(off: number, dst: Uint8Array): number {
    if (off < 0 || off + dst.length > this.size) return ERR_STORAGE;
    readSync(this.fd, dst, 0, dst.length, off);
    return 0;
  }
  write(off: number, src: Uint8Array): number {
    if (off < 0 || off + src.length > this.size) return ERR_STORAGE;
    const cur = new Uint8Array(src.length);
    readSync(this.fd, cur, 0, src.length, off);
    for (let i = 0; i < src.length; i++) cur[i] &= src[i];
    writeSync(this.fd, cur, 0, cur.length, off);
    this.written();
    return 0;
  }
  erase(off: number, len: number): number {
    if (off < 0 || off + len > this.size) return ERR_STORAGE;
    writeSync(this.fd, new Uint8Array(len).fill(0xff), 0, len, off);
    this.written();
    return 0;
  }
  private written(): void {
    this.group.wrote();
    if (!this.groupCommit) this.group.syncNow();
  }
  sync(): void { this.group.syncNow(); }
  syncAsync(): Promise<void> { return this.group.sync(); }
  close(): void {
    // An fsync still in flight keeps its own reference to the file; the
    // data is in the page cache either way. Make it durable before closing.
    try { this.group.syncNow(); } catch { /* closing anyway */ }
    closeSync(this.fd);
  }
}
