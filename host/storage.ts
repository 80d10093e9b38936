// Persistent storage for a core running on the host: the three storage
// imports over a flat region with NOR-flash rules (erase sets 0xFF, a write
// only clears bits), in memory or in a file written with fsync. The same
// rules as the device's flash, so a journal bug cannot hide on the host.
import { openSync, readSync, writeSync, fsyncSync, closeSync, existsSync, ftruncateSync, fstatSync } from "node:fs";

export interface Storage {
  readonly size: number;
  read(off: number, dst: Uint8Array): number;
  write(off: number, src: Uint8Array): number;
  erase(off: number, len: number): number;
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

/** A file of `size` bytes; every write and erase is fsync'd before it
 *  returns, so an acknowledged QoS 2 record survives a host crash. */
export class FileStorage implements Storage {
  private fd: number;
  constructor(path: string, readonly size: number) {
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
    fsyncSync(this.fd);
    return 0;
  }
  erase(off: number, len: number): number {
    if (off < 0 || off + len > this.size) return ERR_STORAGE;
    writeSync(this.fd, new Uint8Array(len).fill(0xff), 0, len, off);
    fsyncSync(this.fd);
    return 0;
  }
  close(): void { closeSync(this.fd); }
}
