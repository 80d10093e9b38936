// Protobuf's zig-zag encoding of signed integers (sint32/sint64): 0, -1, 1,
// -2... as 0, 1, 2, 3... The core's protobuf codec decodes every varint as
// unsigned (the schema says which fields are signed), so a reader of a
// signed field, such as the status in T_ERROR or a probe result, undoes it
// here.

/** The signed value of a zig-zag encoded varint. */
export function zigzagDecode(v: bigint): bigint {
  return (v >> 1n) ^ -(v & 1n);
}
