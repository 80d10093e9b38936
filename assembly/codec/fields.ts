// The message model every payload codec reads and writes: a flat table of
// numbered fields, the protobuf model without nesting. Codecs translate the
// table to and from bytes; callers fill it (msg_add) or read it after a
// decode. Bytes fields point at their data (in the source payload after a
// decode, or in MSG_DATA where a shell staged them): nothing is copied.
//
// Field entry (16 bytes): +0 tag u16  +2 kind u8  +3 pad  +4 len u32
//                         +8 value u64 (integer, or data address for bytes)
import { MAX_FIELDS, MAX_PAYLOAD } from "../config";
import { Status } from "../status";

export const K_UINT: u8 = 0; // varint, unsigned (protobuf uint32/uint64/bool/enum)
export const K_SINT: u8 = 1; // zig-zag varint (protobuf sint32/sint64)
export const K_BYTES: u8 = 2; // length-delimited (protobuf bytes/string)
export const K_FIXED32: u8 = 3; // little-endian 32 bits (protobuf fixed32)
export const K_FIXED64: u8 = 4; // little-endian 64 bits (protobuf fixed64)

const FIELD_SIZE: usize = 16;
const FIELDS = memory.data(MAX_FIELDS * <i32>FIELD_SIZE, 8);
/** Where a shell stages bytes-field data before msg_add (MAX_PAYLOAD bytes). */
export const MSG_DATA = memory.data(MAX_PAYLOAD, 4);
let fieldCount: i32 = 0;

export function msg_reset(): void { fieldCount = 0; }
export function msg_count(): i32 { return fieldCount; }

@inline function entry(i: i32): usize { return FIELDS + <usize>i * FIELD_SIZE; }

/** Append a field. Tags are 1..65535 (protobuf allows more; QN does not
 *  need them, and a u16 keeps the table small). */
export function msg_add(tag: i32, kind: u8, value: u64, len: u32): i32 {
  if (tag < 1 || tag > 0xFFFF || kind > K_FIXED64) return Status.ERR_ARG;
  if (fieldCount >= MAX_FIELDS) return Status.ERR_NO_SPACE;
  const e = entry(fieldCount++);
  store<u16>(e, <u16>tag);
  store<u8>(e + 2, kind);
  store<u32>(e + 4, kind == K_BYTES ? len : 0);
  store<u64>(e + 8, value);
  return Status.OK;
}

@inline export function msg_tag(i: i32): i32 { return <i32>load<u16>(entry(i)); }
@inline export function msg_kind(i: i32): u8 { return load<u8>(entry(i) + 2); }
@inline export function msg_len(i: i32): u32 { return load<u32>(entry(i) + 4); }
@inline export function msg_value(i: i32): u64 { return load<u64>(entry(i) + 8); }

/** Index of the first field with `tag`, or -1. */
export function msg_find(tag: i32): i32 {
  for (let i = 0; i < fieldCount; i++) if (msg_tag(i) == tag) return i;
  return -1;
}

/** Value of the first field with `tag`, or `dflt`. */
export function msg_get(tag: i32, dflt: u64): u64 {
  const i = msg_find(tag);
  return i < 0 ? dflt : msg_value(i);
}
