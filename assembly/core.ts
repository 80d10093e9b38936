// The core's data path: bytes in -> decoder -> dispatch -> replies or inbox;
// application messages -> frame -> COBS -> pool block -> outbox -> bytes out.
// The core answers link-level requests itself (ping, identity, probes) so
// every shell gets them for free; everything else goes to the inbox for the
// shell's application.
import {
  HEADER_SIZE, MAX_PAYLOAD, MAX_FRAME, MAX_WIRE, RX_STAGE, APP_BUF, INBOX_SLOTS,
  PRIO_CLASSES, PRIO_CONTROL, CODEC_PB, CODEC_JSON,
} from "./config";
import { Status } from "./status";
import { crc32c_init } from "./crc32c";
import { cobs_encode } from "./cobs";
import { pools_init, pool_alloc, pool_free } from "./pool";
import { Ring, ring_init, ring_push_u32, ring_pop_u32 } from "./ring";
import { decoder_reset, decoder_push, decoder_frame, decoder_frame_len, FRAME_READY } from "./decoder";
import { sched_init, sched_queue } from "./sched";
import {
  header_write, frame_seal, flags_make, flags_prio, H_TYPE, H_FLAGS, H_CODEC, H_CHANNEL,
  H_LENGTH, H_PACKET, T_PING, T_PONG, T_IDENT_REQ, T_IDENT, T_PROBE_REQ, T_PROBE_RES,
} from "./frame";
import { count, counters_reset, C_INBOX_DROP, C_POOL_FAIL } from "./counters";
import { codec_encode, codec_decode, codecs_built } from "./codec/registry";
import { identity_fill } from "./identity";
import { probe_run } from "./probes";
import { idgen_init, idgen_live } from "./ids";

export const RX_BUF = memory.data(RX_STAGE, 4);
/** Application exchange area: header at +0, payload at +HEADER_SIZE. */
export const APP = memory.data(APP_BUF + 4, 4);
/** Where the core builds its own replies (never the application's area). */
const BUILD = memory.data(MAX_FRAME + 4, 4);
const INBOX_MEM = memory.data(<i32>INBOX_SLOTS * 4, 4);
const INBOX = memory.data(offsetof<Ring>(), 4);

let sessionId: u32 = 0;
let lsn: u32 = 0;
let nextPacket: u32 = 1;
let nowUs: i64 = 0;
let ready: bool = false;

@inline function inbox(): Ring { return changetype<Ring>(INBOX); }

export function core_init(): i32 {
  counters_reset();
  crc32c_init();
  pools_init();
  sched_init();
  decoder_reset();
  ring_init(inbox(), INBOX_MEM, INBOX_SLOTS, 4);
  sessionId = 0;
  lsn = 0;
  nextPacket = 1;
  idgen_init(idgen_live(), 0);
  ready = true;
  return Status.OK;
}

export function core_ready(): bool { return ready; }
export function core_now(): i64 { return nowUs; }
export function core_tick(now: i64): void { nowUs = now; }
export function core_session(): u32 { return sessionId; }
export function core_set_session(s: u32): void { sessionId = s; }
export function core_next_packet(): u32 { return nextPacket++; }

/** Seal the frame whose header+payload is at `raw`, COBS it into a pool
 *  block and queue it on its priority class. */
export function core_queue_raw(raw: usize): i32 {
  const n = frame_seal(raw);
  const blk = pool_alloc(n + n / 254 + 2 + 2);
  if (blk == 0) return Status.ERR_POOL_EMPTY;
  const w = cobs_encode(raw, n, blk + 2, MAX_WIRE);
  if (w < 0) { pool_free(blk); return w; }
  store<u16>(blk, <u16>w);
  const st = sched_queue(<i32>flags_prio(load<u8>(raw + H_FLAGS)), blk);
  if (st != Status.OK) pool_free(blk);
  return st;
}

/** Send what the shell put in APP: payload of `len` bytes at APP+24. */
export function core_send(type: u8, flags: u8, codec: u8, channel: u8, packet: u32, len: i32): i32 {
  if (len < 0 || len > MAX_PAYLOAD) return Status.ERR_OVERSIZE;
  if (flags_prio(flags) >= <u8>PRIO_CLASSES || (flags & 0xE0) != 0) return Status.ERR_ARG;
  header_write(APP, type, flags, codec, channel, len, sessionId, packet, ++lsn, <u32>nowUs);
  return core_queue_raw(APP);
}

/** Build a reply in BUILD: header copied from the request, with a new type,
 *  a payload of `len` bytes already at BUILD+24. The reply keeps the
 *  request's priority class, so an emergency ping is answered as urgently
 *  as it was asked. */
function reply(req: usize, type: u8, codec: u8, len: i32): i32 {
  const prio = flags_prio(load<u8>(req + H_FLAGS));
  header_write(BUILD, type, flags_make(prio, 0), codec, load<u8>(req + H_CHANNEL), len,
    sessionId, load<u32>(req + H_PACKET), ++lsn, <u32>nowUs);
  return core_queue_raw(BUILD);
}

/** Codec for a reply: the request's if built, else the first built one. */
function reply_codec(req: usize): u8 {
  const c = load<u8>(req + H_CODEC);
  const built = codecs_built();
  if (c < 32 && (built & (1 << c)) != 0) return c;
  return (built & (1 << CODEC_PB)) != 0 ? CODEC_PB : CODEC_JSON;
}

function encode_reply(req: usize, type: u8): i32 {
  const codec = reply_codec(req);
  const n = codec_encode(codec, BUILD + HEADER_SIZE, MAX_PAYLOAD);
  if (n < 0) return n;
  return reply(req, type, codec, n);
}

function dispatch(raw: usize, n: i32): i32 {
  const type = load<u8>(raw + H_TYPE);
  const len = <i32>load<u16>(raw + H_LENGTH);
  if (type == T_PING) {
    memory.copy(BUILD + HEADER_SIZE, raw + HEADER_SIZE, len);
    return reply(raw, T_PONG, load<u8>(raw + H_CODEC), len);
  }
  if (type == T_IDENT_REQ) {
    identity_fill();
    return encode_reply(raw, T_IDENT);
  }
  if (type == T_PROBE_REQ) {
    const st = codec_decode(load<u8>(raw + H_CODEC), raw + HEADER_SIZE, len);
    if (st < 0) return st;
    probe_run(); // reads the request fields, leaves the result fields
    return encode_reply(raw, T_PROBE_RES);
  }
  // Everything else is the application's: park a copy in the inbox.
  const blk = pool_alloc(n + 2);
  if (blk == 0) { count(C_INBOX_DROP); return Status.ERR_POOL_EMPTY; }
  store<u16>(blk, <u16>n);
  memory.copy(blk + 2, raw, n);
  if (ring_push_u32(inbox(), <u32>blk) != Status.OK) {
    pool_free(blk);
    count(C_INBOX_DROP);
    return Status.ERR_RING_FULL;
  }
  return Status.OK;
}

/** Process `len` bytes the shell copied to RX_BUF. Returns the number of
 *  valid frames completed; errors are counted (qn_counter) and the last
 *  one is in qn_last_error. */
export function core_rx(len: i32): i32 {
  if (len < 0 || len > RX_STAGE) return Status.ERR_ARG;
  let frames = 0;
  for (let i = 0; i < len; i++) {
    const r = decoder_push(load<u8>(RX_BUF + i));
    if (r == FRAME_READY) {
      frames++;
      dispatch(decoder_frame(), decoder_frame_len());
    }
  }
  return frames;
}

/** Move the oldest inbox frame (header + payload) to APP; returns its raw
 *  length without CRC, or 0 when the inbox is empty. */
export function core_inbox_pop(): i32 {
  const blk = <usize>ring_pop_u32(inbox());
  if (blk == 0) return 0;
  const n = <i32>load<u16>(blk) - 4;
  memory.copy(APP, blk + 2, n);
  pool_free(blk);
  return n;
}
