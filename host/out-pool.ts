// Copies out of the core's linear memory into Buffers the caller owns,
// cut from 32 KiB chunks of our own. Node's Buffer.allocUnsafe pool is
// 8 KiB, so at frame sizes it allocates a new backing store every few dozen
// calls, and a fresh ArrayBuffer per copy (slice) costs microseconds: at
// 256 bytes either costs more than the frame's whole encode or decode in
// the core. Small copies still go through Buffer.allocUnsafe, which is
// cheaper there. A chunk is freed when no Buffer cut from it is alive.
const CHUNK = 32 * 1024;
const SMALL = 64;

let chunk = new ArrayBuffer(CHUNK);
let used = 0;

/** A Buffer holding a copy of src[at, at + n). */
export function copyOut(src: Uint8Array, at: number, n: number): Buffer {
  let b: Buffer;
  if (n <= SMALL || n > CHUNK / 4) b = Buffer.allocUnsafe(n);
  else {
    if (used + n > CHUNK) { chunk = new ArrayBuffer(CHUNK); used = 0; }
    b = Buffer.from(chunk, used, n);
    used += (n + 7) & ~7;
  }
  b.set(src.subarray(at, at + n));
  return b;
}
