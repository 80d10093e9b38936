// The payload codec table: codec id (frame header byte 3) -> implementation.
// Adding a codec means one line in each switch below and one id in
// config.ts. The protobuf codec is the protocol's own encoding (handshake,
// identity, probes, config): always built. An optional codec switched off
// in qn_config.mk answers ERR_NOT_BUILT and its code is not in the module.
import { CODEC_PB, CODEC_JSON } from "../config";
import { Status } from "../status";
import { pb_encode, pb_decode } from "./pb";
import { json_encode, json_decode } from "./json";

/** Bitmask of built codecs (bit n = codec id n), reported by identity. */
export function codecs_built(): u32 {
  let m: u32 = 0;
  m |= 1 << CODEC_PB;
  if (QN_FEAT_JSON) m |= 1 << CODEC_JSON;
  return m;
}

export function codec_encode(codec: u8, dst: usize, cap: i32): i32 {
  if (codec == CODEC_PB) return pb_encode(dst, cap);
  if (codec == CODEC_JSON) return QN_FEAT_JSON ? json_encode(dst, cap) : Status.ERR_NOT_BUILT;
  return Status.ERR_CODEC;
}

export function codec_decode(codec: u8, src: usize, len: i32): i32 {
  if (codec == CODEC_PB) return pb_decode(src, len);
  if (codec == CODEC_JSON) return QN_FEAT_JSON ? json_decode(src, len) : Status.ERR_NOT_BUILT;
  return Status.ERR_CODEC;
}
