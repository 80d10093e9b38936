// Types for crc32c.mjs (plain JavaScript so that the build tools run under
// node without a TypeScript loader).

/** CRC-32C (Castagnoli) of `bytes`, as an unsigned 32-bit integer. */
export declare function crc32c(bytes: Iterable<number>): number;
