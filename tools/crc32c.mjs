// CRC-32C in JavaScript, for build tools (manifest, header) that must agree
// with the core's assembly/crc32c.ts.
const T = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  T[i] = c >>> 0;
}
export function crc32c(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = T[(c ^ b) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
