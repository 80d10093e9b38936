// The Wasm ABI of the QN core: every export, nothing else. The build turns
// this file's doc comments and the module's signatures into build/qn_api.h.
// Pointers are offsets into the core's linear memory; shells copy bytes in
// and out of the exchange areas whose addresses these functions return.
import { RX_STAGE, TX_STAGE, MAX_PAYLOAD, HEADER_SIZE, INBOX_SLOTS } from "./config";
import * as core from "./core";
import { TX_BUF, sched_pull, sched_pending, sched_in_flight, sched_stat } from "./sched";
import { counter } from "./counters";
import { decoder_last_error } from "./decoder";
import {
  pool_alloc, pool_free, pool_at, POOL_COUNT,
  POOL_STAT_BLOCK_SIZE, POOL_STAT_COUNT, POOL_STAT_IN_USE, POOL_STAT_HIGH_WATER, POOL_STAT_FAILURES,
} from "./pool";
import { MSG_DATA, msg_reset, msg_add, msg_count, msg_tag, msg_kind, msg_len, msg_value } from "./codec/fields";
import { codec_encode, codec_decode, codecs_built } from "./codec/registry";
import { crc32c, crc32c_widen, CRC_WIDE_BYTES } from "./crc32c";
import { cobs_encode, cobs_decode } from "./cobs";
import { frame_encode, frame_decode } from "./frame_codec";
import "./abort";
import { board_info, board_stack, board_trap, board_image, build_id, features_built } from "./identity";
import { idgen_live, idgen_next } from "./ids";
import { rto_sample, rto_backoff } from "./rto";
import { session_set_key, session_forget_key, session_set_key_id, session_stat, backoff_log, backoff_attempt, session_drop, session_hold_rx, session_sack_off, cfg, CFG_COUNT } from "./session";
import { qos_stat } from "./qos";
import { journal_stat } from "./journal";
import { sha256_init, sha256_update, sha256_final } from "./crypto/sha256";
import { hmac_key, hmac_begin, hmac_update, hmac_end } from "./crypto/hmac";
import { chaskey_key, chaskey_tag, CHASKEY_SCHEDULE } from "./crypto/chaskey";

/** Initialise every pool, ring and state machine. Call once before anything else; returns a status. */
export function qn_init(): i32 { return core.core_init(); }
/** Address of the receive staging area (qn_rx_cap bytes). */
export function qn_rx_buf(): usize { return core.RX_BUF; }
/** Capacity of the receive staging area in bytes. */
export function qn_rx_cap(): i32 { return RX_STAGE; }
/** Decode len bytes from the receive staging area; returns frames completed or a status. */
export function qn_rx(len: i32): i32 { return core.core_rx(len); }
/** Address of the transmit staging area (qn_tx_cap bytes). */
export function qn_tx_buf(): usize { return TX_BUF; }
/** Capacity of the transmit staging area in bytes. */
export function qn_tx_cap(): i32 { return TX_STAGE; }
/** Put up to max next bytes for the wire in the transmit staging area; returns how many. */
export function qn_tx_pull(max: i32): i32 { return sched_pull(max); }
/** Frames queued on priority class prio (qn_prio_t). */
export function qn_tx_pending(prio: i32): i32 { return <i32>sched_pending(prio); }
/** Bytes of the frame now on the wire still to send; 0 when idle. */
export function qn_tx_in_flight(): i32 { return sched_in_flight(); }
/** Advance the core's clock to now_us (monotonic microseconds); drives every timer. */
export function qn_tick(now_us: i64): void { core.core_tick(now_us); }
/** Address of the application area: frame header at +0, payload at +qn_header_size. */
export function qn_app_buf(): usize { return core.APP; }
/** Size of the frame header in bytes. */
export function qn_header_size(): i32 { return HEADER_SIZE; }
/** Largest payload a frame carries. */
export function qn_max_payload(): i32 { return MAX_PAYLOAD; }
/** Queue a frame of type (qn_frame_type_t) with flags (qn_flag_t: priority class, QoS 0) and codec (qn_codec_t) whose payload (len bytes) the caller put in the application area; returns a status. */
export function qn_send(type: i32, flags: i32, codec: i32, channel: i32, packet: u32, len: i32): i32 {
  return core.core_send(<u8>type, <u8>flags, <u8>codec, <u8>channel, packet, len);
}
/** Publish an application message (payload len bytes in the application area) on channel with qos (qn_qos_t), priority class prio (qn_prio_t) and codec (qn_codec_t); returns the packet id (0 for QoS 0) or a status. */
export function qn_publish(channel: i32, qos: i32, prio: i32, codec: i32, len: i32): i64 {
  return core.core_publish(<u8>channel, <u8>qos, <u8>prio, <u8>codec, len);
}
/** qn_publish for a message whose payload starts with a 26-byte binary W3C trace context (version, trace-id, parent-id, flags): sets the frame's TRACE flag so every hop can follow it; len counts the context. */
export function qn_publish_traced(channel: i32, qos: i32, prio: i32, codec: i32, len: i32): i64 {
  return core.core_publish(<u8>channel, <u8>qos, <u8>prio, <u8>codec, len, true);
}
/** Client role: start a handshake now instead of waiting for the backoff timer; returns a status. */
export function qn_connect(): i32 { return core.core_connect(); }
/** The shell stops (1) or resumes (0) reading the link on purpose, for backpressure: while stopped, the peer's silence does not take the session down; on resume the heartbeat window starts again. */
export function qn_hold_rx(held: i32): void { session_hold_rx(held != 0, core.core_now()); }
/** Drop the session (the link is known to be gone); a client reconnects with backoff. */
export function qn_disconnect(): void { session_drop(core.core_now()); }
/** Set config key (qn_config_key_t) to value; returns a status, refusing what it cannot apply. */
export function qn_config_set(key: i32, value: u32): i32 { return core.core_config_set(key, value); }
/** Read config key (qn_config_key_t); 0 for an unknown key. */
export function qn_config_get(key: i32): u32 { return key >= 0 && key < CFG_COUNT ? cfg(key) : 0; }
/** Set the pre-shared key (1..32 bytes at ptr); returns a status. The key never leaves the core. */
export function qn_set_key(ptr: usize, len: i32): i32 { return session_set_key(ptr, len); }
/** Forget the pre-shared key (a client serving many peers in turn: a WELCOME naming its key id then waits for qn_set_key, see QN_ERR_NO_KEY). */
export function qn_forget_key(): void { session_forget_key(); }
/** Set the id this device's key has in the gateway's registry (sent in WELCOME; 0: none). Provisioned with the key. */
export function qn_set_key_id(id: u32): void { session_set_key_id(id); }
/** Session figure what (qn_session_stat_t); 0 for an unknown one. */
export function qn_session_stat(what: i32): i64 { return session_stat(what); }
/** The i-th most recent backoff waits in ms (ring of 8, index = count mod 8). */
export function qn_backoff_log(i: i32): u32 { return backoff_log(i); }
/** The attempt number (1 = first retry) the i-th backoff wait was for (same ring as qn_backoff_log). */
export function qn_backoff_attempt(i: i32): u32 { return backoff_attempt(i); }
/** QoS figure what (qn_qos_stat_t); 0 for an unknown one. */
export function qn_qos_stat(what: i32): u32 { return qos_stat(what); }
/** Record a board event of type (qn_event_type_t) in the device event log: QN_EV_TRAP with the trap code, QN_EV_BOOT with the reset cause; the other types are the core's own. */
export function qn_event(type: i32, code: i32): void { core.core_event(<u8>type, code); }
/** Scheduler figure what (qn_sched_stat_t); 0 for an unknown one. */
export function qn_sched_stat(what: i32): u32 { return sched_stat(what); }
/** Open the journal over size bytes of storage (two halves) and recover QoS 2 state; returns a status. */
export function qn_journal_open(size: u32): i32 { return core.core_journal_open(size); }
/** Journal figure what (qn_journal_stat_t); 0 for an unknown one. */
export function qn_journal_stat(what: i32): u32 { return journal_stat(what); }
/** SHA-256 of len bytes at ptr into the 32 bytes at out. @probe */
export function qn_sha256(ptr: usize, len: i32, out: usize): void { sha256_init(); sha256_update(ptr, len); sha256_final(out); }
/** HMAC-SHA-256 of len bytes at ptr under the klen-byte key at key, into the 32 bytes at out (tests and tools: the handshake sets its own key each time). @probe */
export function qn_hmac(key: usize, klen: i32, ptr: usize, len: i32, out: usize): void { hmac_key(key, klen); hmac_begin(); hmac_update(ptr, len); hmac_end(out); }
/** Feed the QoS retransmission timer a round trip of us µs, as an ack of a message sent once does (tests; assembly/rto.ts). @probe */
export function qn_rto_sample(us: i64): void { rto_sample(us); }
/** Expire the QoS retransmission timer once: it doubles until the next sample (tests; assembly/rto.ts). @probe */
export function qn_rto_backoff(): void { rto_backoff(); }
/** Announce and use no selective repeat from now on, as a core without it does (tests of the fallback; assembly/hold.ts). @probe */
export function qn_sack_off(): void { session_sack_off(); }
/** Chaskey-12 (the frame MAC of auth mode 2) of len bytes at ptr under the 16-byte key at key: the 16-byte tag into out (frames carry its first 8). Tests and tools; the session's key is not touched. @probe */
export function qn_chaskey(key: usize, ptr: usize, len: i32, out: usize): void { chaskey_key(CHASKEY_KS, key); memory.copy(out, chaskey_tag(CHASKEY_KS, ptr, len), 16); }
const CHASKEY_KS = memory.data(CHASKEY_SCHEDULE, 4);
/** Move the oldest received frame (header+payload) to the application area; returns its length or 0. */
export function qn_inbox_pop(): i32 { return core.core_inbox_pop(); }
/** Frames waiting in the inbox. */
export function qn_inbox_count(): i32 { return <i32>core.core_inbox_count(); }
/** Frames the inbox holds at most (a shell feeding qn_rx from a fast link hands over at most this many frames per call, or the rest are dropped and counted). */
export function qn_inbox_capacity(): i32 { return <i32>INBOX_SLOTS; }
/** Copy the i-th oldest inbox frame to the application area without taking it; returns its length or 0. */
export function qn_inbox_peek(i: i32): i32 { return i < 0 ? 0 : core.core_inbox_peek(<u32>i); }
/** A fresh packet id for qn_send. */
export function qn_next_packet(): u32 { return core.core_next_packet(); }
/** Event counter id (qn_counter_t); wraps at 2^32, 0 for an unknown id. */
export function qn_counter(id: i32): u32 { return counter(id); }
/** Status of the last frame the decoder rejected. */
export function qn_last_error(): i32 { return decoder_last_error(); }
/** Tell the core what board it runs on: clock in Hz, linear memory bytes, platform name (len bytes at name). */
export function qn_board_info(clock_hz: u32, mem_bytes: u32, name: usize, len: i32): void { board_info(clock_hz, mem_bytes, name, len); }
/** Tell the core the stack high-water mark and size in bytes (painted-stack measurement). */
export function qn_board_stack(used: u32, size: u32): void { board_stack(used, size); }
/** Tell the core a trap was caught and recovered by the shell (counted, reported by identity). */
export function qn_board_trap(): void { board_trap(); }
/** Tell the core the CRC-32C and length of the firmware image as measured in flash (0, 0 until measured). */
export function qn_board_image(crc: u32, len: u32): void { board_image(crc, len); }
/** A fresh 64-bit Snowflake-style id (ms time, node, sequence): unique and increasing even if the clock steps back. */
export function qn_id_next(): u64 { return idgen_next(idgen_live(), core.core_now()); }
/** Build id of the core (hash of its sources, also in the build manifest). */
export function qn_build_id(): u32 { return build_id(); }
/** Bitmask of features built in (qn_feature_t). */
export function qn_features(): u32 { return features_built(); }
/** Bitmask of payload codecs built in (bit n = codec id n, qn_codec_t). */
export function qn_codecs(): u32 { return codecs_built(); }
/** First free byte after the core's static data: the linear memory it needs. */
export function qn_heap_base(): usize { return __heap_base; }
/** Number of block pools. */
export function qn_pool_count(): i32 { return POOL_COUNT; }
/** Pool i's figure what (qn_pool_stat_t); 0 for an unknown pool or figure. */
export function qn_pool_stat(i: i32, what: i32): u32 {
  if (i < 0 || i >= POOL_COUNT) return 0;
  const p = pool_at(i);
  if (what == POOL_STAT_BLOCK_SIZE) return p.blockSize;
  if (what == POOL_STAT_COUNT) return p.count;
  if (what == POOL_STAT_IN_USE) return p.inUse;
  if (what == POOL_STAT_HIGH_WATER) return p.highWater;
  if (what == POOL_STAT_FAILURES) return p.failures;
  return 0;
}
/** Allocate a block of at least size bytes from the pools; returns its address or 0 when exhausted. @probe */
export function qn_pool_alloc(size: i32): usize { return pool_alloc(size); }
/** Return a block to its pool; returns a status (ERR_DOUBLE_FREE for a bad or repeated free). @probe */
export function qn_pool_free(blk: usize): i32 { return pool_free(blk); }
/** Clear the message field table. */
export function qn_msg_reset(): void { msg_reset(); }
/** Append field tag of kind (qn_field_kind_t; for QN_K_BYTES value is the data's address and len its length); returns a status. */
export function qn_msg_add(tag: i32, kind: i32, value: u64, len: u32): i32 { return msg_add(tag, <u8>kind, value, len); }
/** Number of fields in the table. */
export function qn_msg_count(): i32 { return msg_count(); }
/** Tag of field i. */
export function qn_msg_tag(i: i32): i32 { return i >= 0 && i < msg_count() ? msg_tag(i) : 0; }
/** Kind of field i (qn_field_kind_t), -1 past the last. */
export function qn_msg_kind(i: i32): i32 { return i >= 0 && i < msg_count() ? msg_kind(i) : -1; }
/** Length of bytes field i. */
export function qn_msg_len(i: i32): u32 { return i >= 0 && i < msg_count() ? msg_len(i) : 0; }
/** Value of field i (data address for bytes fields). */
export function qn_msg_value(i: i32): u64 { return i >= 0 && i < msg_count() ? msg_value(i) : 0; }
/** Address of the staging area for bytes-field data (qn_max_payload bytes). */
export function qn_msg_data(): usize { return MSG_DATA; }
/** Encode the field table with codec (qn_codec_t) into dst (cap bytes); returns the length or a status. */
export function qn_encode(codec: i32, dst: usize, cap: i32): i32 { return codec_encode(<u8>codec, dst, cap); }
/** Decode len bytes at src with codec (qn_codec_t) into the field table; returns the field count or a status. */
export function qn_decode(codec: i32, src: usize, len: i32): i32 { return codec_decode(<u8>codec, src, len); }
/** Pure frame codec (no session or queue): encode a frame whose payload (len bytes) is in the application area into dst (cap bytes) with header, CRC-32C, the header inverted, COBS and delimiter, as the link sends it; session, LSN and time are 0. Returns the wire length or a status (ERR_ARG for the MAC flag). @probe */
export function qn_frame_encode(type: i32, flags: i32, codec: i32, channel: i32, packet: u32, len: i32, dst: usize, cap: i32): i32 {
  return frame_encode(core.APP, <u8>type, <u8>flags, <u8>codec, <u8>channel, packet, len, dst, cap);
}
/** Pure frame codec: decode one wire frame (len bytes at src, delimiters optional) into the application area (header + payload), checked like the link's (COBS, header un-inverted, length, CRC, version; a MAC is not verified). Returns the payload length or a status. @probe */
export function qn_frame_decode(src: usize, len: i32): i32 { return frame_decode(src, len, core.APP); }
/** Optional speed-up for a shell with RAM to spare: give the core CRC_WIDE bytes (qn_crc32c_widen_bytes) at ptr, past its static data and never touched by the shell again, for slicing-by-16 CRC tables. Same results, about 6x faster on an out-of-order CPU; the device shells do not call it. Returns 1 once the core checked the tables against its byte-wise CRC and switched, else 0. @probe */
export function qn_crc32c_widen(ptr: usize): i32 { return crc32c_widen(ptr) ? 1 : 0; }
/** Bytes qn_crc32c_widen takes. @probe */
export function qn_crc32c_widen_bytes(): i32 { return CRC_WIDE_BYTES; }
/** CRC-32C of len bytes at ptr. @probe */
export function qn_crc32c(ptr: usize, len: i32): u32 { return crc32c(ptr, len); }
/** COBS-encode len bytes at src into dst (cap bytes) with the 0x00 delimiter; returns the length or a status. @probe */
export function qn_cobs_encode(src: usize, len: i32, dst: usize, cap: i32): i32 { return cobs_encode(src, len, dst, cap); }
/** Decode one COBS frame (len bytes, no delimiter) at src into dst; returns the length or a status. @probe */
export function qn_cobs_decode(src: usize, len: i32, dst: usize, cap: i32): i32 { return cobs_decode(src, len, dst, cap); }
