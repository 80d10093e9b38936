// Protocol Buffers wire format (proto3 encoding rules) for the flat field
// table: varint keys (tag << 3 | wire type), varints, zig-zag for signed,
// length-delimited bytes, fixed32/fixed64. Any protobuf tool reads QN
// payloads (protobufjs on the host, `protoc --decode_raw`). Decoding yields
// K_UINT for every varint: whether it was zig-zag is the schema's business.
// Groups (wire types 3 and 4) are refused as ERR_DECODE.
import { Status } from "../status";
import {
  K_UINT, K_SINT, K_BYTES, K_FIXED32, K_FIXED64,
  msg_add, msg_count, msg_tag, msg_kind, msg_len, msg_value, msg_reset,
} from "./fields";

function put_varint(dst: usize, pos: i32, cap: i32, v: u64): i32 {
  while (v >= 0x80) {
    if (pos >= cap) return Status.ERR_NO_SPACE;
    store<u8>(dst + pos++, <u8>(v | 0x80));
    v >>= 7;
  }
  if (pos >= cap) return Status.ERR_NO_SPACE;
  store<u8>(dst + pos++, <u8>v);
  return pos;
}

/** Encode the field table into `dst`; returns the length or a status. */
export function pb_encode(dst: usize, cap: i32): i32 {
  let pos: i32 = 0;
  const n = msg_count();
  for (let i = 0; i < n; i++) {
    const kind = msg_kind(i);
    const tag = <u64>msg_tag(i);
    let v = msg_value(i);
    if (kind == K_UINT || kind == K_SINT) {
      if (kind == K_SINT) v = (v << 1) ^ <u64>(<i64>v >> 63);
      pos = put_varint(dst, pos, cap, tag << 3);
      if (pos < 0) return pos;
      pos = put_varint(dst, pos, cap, v);
    } else if (kind == K_BYTES) {
      const len = msg_len(i);
      pos = put_varint(dst, pos, cap, (tag << 3) | 2);
      if (pos < 0) return pos;
      pos = put_varint(dst, pos, cap, <u64>len);
      if (pos < 0) return pos;
      if (pos + <i32>len > cap) return Status.ERR_NO_SPACE;
      memory.copy(dst + pos, <usize>v, len);
      pos += <i32>len;
    } else if (kind == K_FIXED32) {
      pos = put_varint(dst, pos, cap, (tag << 3) | 5);
      if (pos < 0) return pos;
      if (pos + 4 > cap) return Status.ERR_NO_SPACE;
      store<u32>(dst + pos, <u32>v);
      pos += 4;
    } else {
      pos = put_varint(dst, pos, cap, (tag << 3) | 1);
      if (pos < 0) return pos;
      if (pos + 8 > cap) return Status.ERR_NO_SPACE;
      store<u64>(dst + pos, v);
      pos += 8;
    }
    if (pos < 0) return pos;
  }
  return pos;
}

let rdPos: i32 = 0;
let rdErr: bool = false;

function get_varint(src: usize, len: i32): u64 {
  let v: u64 = 0;
  for (let shift: u64 = 0; shift < 64; shift += 7) {
    if (rdPos >= len) { rdErr = true; return 0; }
    const b = load<u8>(src + rdPos++);
    // The 10th byte may only carry the top bit of a 64-bit value.
    if (shift == 63 && b > 1) { rdErr = true; return 0; }
    v |= <u64>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return v;
  }
  rdErr = true;
  return 0;
}

/** Decode `len` bytes at `src` into the field table. */
export function pb_decode(src: usize, len: i32): i32 {
  msg_reset();
  rdPos = 0;
  rdErr = false;
  while (rdPos < len) {
    const key = get_varint(src, len);
    if (rdErr) return Status.ERR_DECODE;
    const tag = key >> 3;
    const wt = <u32>(key & 7);
    if (tag == 0 || tag > 0xFFFF) return Status.ERR_DECODE;
    let st: i32 = 0;
    if (wt == 0) {
      const v = get_varint(src, len);
      if (rdErr) return Status.ERR_DECODE;
      st = msg_add(<i32>tag, K_UINT, v, 0);
    } else if (wt == 2) {
      const n = get_varint(src, len);
      if (rdErr || n > <u64>(len - rdPos)) return Status.ERR_DECODE;
      st = msg_add(<i32>tag, K_BYTES, <u64>(src + rdPos), <u32>n);
      rdPos += <i32>n;
    } else if (wt == 5) {
      if (len - rdPos < 4) return Status.ERR_DECODE;
      st = msg_add(<i32>tag, K_FIXED32, <u64>load<u32>(src + rdPos), 0);
      rdPos += 4;
    } else if (wt == 1) {
      if (len - rdPos < 8) return Status.ERR_DECODE;
      st = msg_add(<i32>tag, K_FIXED64, load<u64>(src + rdPos), 0);
      rdPos += 8;
    } else {
      return Status.ERR_DECODE;
    }
    if (st < 0) return st;
  }
  return msg_count();
}
