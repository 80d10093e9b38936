// Copies out of the core's linear memory into Uint8Arrays the caller
// owns, cut from 32 KiB chunks of our own. A fresh ArrayBuffer per copy
// (slice, or new Uint8Array(n) above V8's 64-byte on-heap limit) costs
// about 2.5 us: at 256 bytes more than the frame's whole encode or decode
// in the core. Copies of up to 64 bytes live on V8's heap, cheaper still.
// A chunk is freed when no view cut from it is alive.
//
// Plain Uint8Arrays, not Buffers: Buffer.from and Buffer.allocUnsafe are
// shared with every other library in the process, and once those fed them
// other argument types the inlined factory ran slower in our hot path.
// With the typed-array constructor the host codec benchmark went from
// 3.4-3.7M to 4.0-4.3M ops/s at 16 B and from 1.0-1.7M (two modes, by run)
// to 1.4-1.9M at 256 B. Node's APIs (sockets, files, Buffer.concat) take
// Uint8Arrays; Buffer.from(view.buffer, view.byteOffset, view.length)
// wraps one without a copy where a Buffer method is wanted.
const CHUNK = 32 * 1024;
const SMALL = 64;

let chunk = new ArrayBuffer(CHUNK);
let used = 0;

/** A Uint8Array holding a copy of src[at, at + n). */
export function copyOut(src: Uint8Array, at: number, n: number): Uint8Array {
  let b: Uint8Array;
  if (n <= SMALL || n > CHUNK / 4) b = new Uint8Array(n);
  else {
    if (used + n > CHUNK) {
      chunk = new ArrayBuffer(CHUNK);
      used = 0;
    }
    b = new Uint8Array(chunk, used, n);
    used += (n + 7) & ~7;
  }
  b.set(src.subarray(at, at + n));
  return b;
}
