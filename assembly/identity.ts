// What a device says about itself (frame T_IDENT). The core knows its own
// version, build id and memory; the board tells it the rest once at boot
// (qn_board_info): platform name, core clock, linear memory it was given,
// and later its stack figures.
//
// Identity fields (protobuf field numbers, see docs/PROTOCOL.md):
//   1 fw_version string   2 build_id uint32      3 platform string
//   4 clock_hz uint32     5 wasm_mem_bytes uint  6 heap_base uint
//   7 pool_in_use uint    8 pool_high_water uint 9 uptime_us uint
//  10 protocol uint      11 codecs bitmask      12 features bitmask
//  13 stack_used uint    14 stack_size uint     15 traps uint
//  16 image_crc uint     17 image_len uint
import { PROTOCOL_VERSION, VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH } from "./config";
import { K_UINT, K_BYTES, msg_reset, msg_add } from "./codec/fields";
import { codecs_built } from "./codec/registry";
import { pool_at, POOL_COUNT } from "./pool";
import { core_now } from "./core";

const PLATFORM = memory.data(32, 4);
const VERSION_STR = memory.data(12, 4);
let platformLen: i32 = 0;
let clockHz: u32 = 0;
let memBytes: u32 = 0;
let stackUsed: u32 = 0;
let stackSize: u32 = 0;
let traps: u32 = 0;
let imageCrc: u32 = 0;
let imageLen: u32 = 0;

/** Board facts; `name` is `len` bytes of platform name. */
export function board_info(hz: u32, mem: u32, name: usize, len: i32): void {
  clockHz = hz;
  memBytes = mem;
  if (len > 32) len = 32;
  if (len < 0) len = 0;
  memory.copy(PLATFORM, name, len);
  platformLen = len;
}

export function board_stack(used: u32, size: u32): void { stackUsed = used; stackSize = size; }
export function board_trap(): void { traps++; }
/** CRC-32C of the firmware image as the board measured it in flash, and its
 *  length: the selftest compares them with the build's (core.integrity). */
export function board_image(crc: u32, len: u32): void { imageCrc = crc; imageLen = len; }

/** Build id: set by the build (`--use QN_BUILD_ID=...`, a hash of the core's
 *  sources) so the host can match a device to its build manifest. */
export function build_id(): u32 { return <u32>QN_BUILD_ID; }

/** Feature bits of qn_features(). */
export const FEATURE_PB: u32 = 1; // protobuf codec (always built)
export const FEATURE_JSON: u32 = 2; // JSON codec
export const FEATURE_PROBES: u32 = 4; // selftest probes

/** Features built in, as a bitmask of FEATURE_*. */
export function features_built(): u32 {
  let m: u32 = FEATURE_PB;
  if (QN_FEAT_JSON) m |= FEATURE_JSON;
  if (QN_FEAT_PROBES) m |= FEATURE_PROBES;
  return m;
}

function put_dec(p: usize, v: u32): usize {
  if (v >= 10) p = put_dec(p, v / 10);
  store<u8>(p, <u8>(0x30 + v % 10));
  return p + 1;
}

function version_string(): i32 {
  let p = put_dec(VERSION_STR, VERSION_MAJOR);
  store<u8>(p++, 0x2E);
  p = put_dec(p, VERSION_MINOR);
  store<u8>(p++, 0x2E);
  p = put_dec(p, VERSION_PATCH);
  return <i32>(p - VERSION_STR);
}

export function identity_fill(): void {
  msg_reset();
  msg_add(1, K_BYTES, <u64>VERSION_STR, <u32>version_string());
  msg_add(2, K_UINT, <u64>build_id(), 0);
  msg_add(3, K_BYTES, <u64>PLATFORM, <u32>platformLen);
  msg_add(4, K_UINT, <u64>clockHz, 0);
  msg_add(5, K_UINT, <u64>memBytes, 0);
  msg_add(6, K_UINT, <u64>__heap_base, 0);
  let inUse: u64 = 0, high: u64 = 0;
  for (let i = 0; i < POOL_COUNT; i++) { inUse += pool_at(i).inUse; high += pool_at(i).highWater; }
  msg_add(7, K_UINT, inUse, 0);
  msg_add(8, K_UINT, high, 0);
  msg_add(9, K_UINT, <u64>core_now(), 0);
  msg_add(10, K_UINT, <u64>PROTOCOL_VERSION, 0);
  msg_add(11, K_UINT, <u64>codecs_built(), 0);
  msg_add(12, K_UINT, <u64>features_built(), 0);
  msg_add(13, K_UINT, <u64>stackUsed, 0);
  msg_add(14, K_UINT, <u64>stackSize, 0);
  msg_add(15, K_UINT, <u64>traps, 0);
  msg_add(16, K_UINT, <u64>imageCrc, 0);
  msg_add(17, K_UINT, <u64>imageLen, 0);
}
