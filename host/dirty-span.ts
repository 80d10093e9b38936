// Unflushed writes over a region of a file, without a copy of the region
// in RAM: the bytes of [lo, hi) as they are to be written (the file's,
// changed by the writes since the last flush). A read is the file's bytes
// under them. NOR-flash rules: a write only clears bits, an erase sets
// 0xFF (host/storage.ts says why).

/** Reads `dst.length` bytes of the region at `at` from the file. */
export type ReadAt = (dst: Uint8Array, at: number) => void;

export class DirtySpan {
  private lo = Infinity;
  private hi = 0;
  private bytes?: Uint8Array;

  /** `size`: the region's bytes; `align`: the span grows in whole blocks
   *  of this size, so records appended one after the other cost one read
   *  of the file per block, not one per record. */
  constructor(
    private readonly size: number,
    private readonly readAt: ReadAt,
    private readonly align = 1,
  ) {}

  get empty(): boolean {
    return this.lo >= this.hi;
  }

  /** The file's bytes at `off`, under the unflushed ones. */
  read(off: number, dst: Uint8Array): void {
    if (dst.length) this.readAt(dst, off);
    const lo = Math.max(off, this.lo),
      hi = Math.min(off + dst.length, this.hi);
    if (lo < hi) dst.set(this.bytes!.subarray(lo - this.lo, hi - this.lo), lo - off);
  }

  /** Program `src` at `off`: bits only cleared. */
  write(off: number, src: Uint8Array): void {
    const d = this.cover(off, off + src.length);
    const at = off - this.lo;
    for (let i = 0; i < src.length; i++) d[at + i] &= src[i];
  }

  /** Erase [off, off + len) to 0xFF. */
  erase(off: number, len: number): void {
    this.cover(off, off + len).fill(0xff, off - this.lo, off - this.lo + len);
  }

  /** The span's bytes and where they go, and a clean slate. */
  take(): { at: number; bytes: Uint8Array } | null {
    if (this.empty) return null;
    const r = { at: this.lo, bytes: this.bytes! };
    this.bytes = undefined;
    this.lo = Infinity;
    this.hi = 0;
    return r;
  }

  /** The span grown to cover [lo, hi), the bytes it gains read from the
   *  file; returns the span's buffer. */
  private cover(lo: number, hi: number): Uint8Array {
    if (this.bytes && lo >= this.lo && hi <= this.hi) return this.bytes;
    const a = this.align;
    const nlo = Math.min(Math.floor(lo / a) * a, this.lo),
      nhi = Math.min(Math.max(Math.ceil(hi / a) * a, this.hi), this.size);
    const next = new Uint8Array(nhi - nlo);
    if (this.bytes) {
      // Only what the span gains comes from the file.
      if (this.lo > nlo) this.readAt(next.subarray(0, this.lo - nlo), nlo);
      next.set(this.bytes, this.lo - nlo);
      if (nhi > this.hi) this.readAt(next.subarray(this.hi - nlo), this.hi);
    } else this.readAt(next, nlo);
    this.bytes = next;
    this.lo = nlo;
    this.hi = nhi;
    return next;
  }
}
