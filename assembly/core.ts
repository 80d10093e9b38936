// The core's data path: bytes in -> decoder -> dispatch -> session, QoS,
// replies or inbox; application messages -> frame -> (MAC) -> COBS -> pool
// block -> outbox -> bytes out; and the clock (core_tick) driving
// heartbeats, reconnects and retransmissions. The core answers link-level
// requests itself (ping, identity, probes, handshakes, acknowledgements) so
// every shell gets them for free; the application sees only its messages.
import {
  HEADER_SIZE, MAX_PAYLOAD, MAX_FRAME, MAX_WIRE, RX_STAGE, APP_BUF,
  PRIO_CLASSES, PRIO_CONTROL, CODEC_PB, CODEC_JSON,
  QOS_AT_MOST_ONCE, QOS_AT_LEAST_ONCE, QOS_EXACTLY_ONCE, CODEC_NONE,
} from "./config";
import { Status } from "./status";
import { crc32c_init } from "./crc32c";
import { pools_init, pool_alloc, pool_free, BLK_HDR, blk_len, blk_set_len, blk_data } from "./pool";
import {
  decoder_reset, decoder_feed, decoder_consumed, decoder_frame, decoder_frame_len, FRAME_READY,
  decoder_mac_first, decoder_crc_deferred, decoder_deferred_ok, decoder_deferred_crc,
} from "./decoder";
import { sched_init, sched_queue } from "./sched";
import {
  header_write, frame_seal, flags_make, flags_prio, flags_qos, H_TYPE, H_FLAGS, H_CODEC, H_CHANNEL,
  H_LENGTH, H_SESSION, H_PACKET, H_LSN, H_TIME, T_PING, T_PONG, T_IDENT_REQ, T_IDENT, T_PROBE_REQ,
  T_PROBE_RES, T_DATA, T_ERROR, T_HELLO, T_WELCOME, T_CONFIRM, T_PUBACK, T_PUBREC, T_PUBREL, T_PUBCOMP,
  F_DUP, F_MAC, F_TRACE, TRACE_BYTES, SACK_BYTES, T_RESET_REQ, T_CONFIG, T_CONFIG_ACK, T_LOG_REQ, T_LOG, frame_to_wire,
} from "./frame";
import {
  count, counters_reset, C_ERR_TYPE, C_AUTH_FAIL, C_REPLAY, C_SESSION_REJECT, C_RETX,
  C_LINK_DOWN_REFUSED, C_HEARTBEATS, C_LINK_DOWN, C_INBOX_DROP,
} from "./counters";
import { rto_us, rto_backoff } from "./rto";
import { K_SINT, K_UINT, K_BYTES, msg_reset, msg_add, msg_get, msg_count, msg_tag, msg_kind, msg_value } from "./codec/fields";
import { events_init, event_at, EVENT_SIZE, EV_LINK_UP, EV_LINK_DOWN, EV_AUTH_FAIL, EV_CONFIG } from "./events";
import { codec_encode, codec_decode, codecs_built } from "./codec/registry";
import { identity_fill } from "./identity";
import { probe_run } from "./probes";
import { idgen_init, idgen_live, idgen_resume, idgen_lease_due, idgen_lease_renew } from "./ids";
import { journal_ready } from "./journal";
import { entropy } from "./bindings/env";
import { inbox_init, inbox_full, inbox_push, inbox_take, inbox_free, inbox_count, inbox_at } from "./inbox";
import {
  session_defaults, session_tick, session_up, session_wire_id, session_state, session_config, CFG_NODE, cfg, hello_build,
  hello_take, hello_status, hello_was_duplicate, welcome_take, confirm_build, confirm_take, session_note_rx,
  session_note_tx, session_sack, session_set_bases, session_peer_base, session_resumed, session_drop, session_suspect, session_peer_epoch,
  ROLE_CLIENT, ROLE_SERVER, AUTH_NONE, AUTH_FRAME_MAC, CFG_ROLE, CFG_AUTH, TICK_SEND_PING, TICK_SEND_HELLO, TICK_WENT_DOWN, config_stage_begin, config_stage,
  config_stage_commit, config_generation, session_journal_open,
} from "./session";
import { mac_write, mac_check, replay_check, replay_mark, replay_reset } from "./mac";
import {
  qos_init, qos_publish, qos_entry_block, qos_mark_sent, qos_ack, qos_due, qos_rel_id, qos_rel_sent, qos_take_dup,
  qos_set_pending, qos_next_pending, qos_take_fast, qos_forget_sacks, qos_hold, qos_unhold, qos_take_held, qos_sack,
  qos_next_unacked, qos_classify, qos_accept, qos_ack_id, qos_delivered, qos_base, qos_peer_base,
  qos_recover, qos_epoch, qos_event, qos_ids_lease, qos_ids_node, qos_ids_write, RX_DELIVER, RX_DUP, RX_GAP,
} from "./qos";

export const RX_BUF = memory.data(RX_STAGE, 4);
/** Application exchange area: header at +0, payload at +HEADER_SIZE. */
export const APP = memory.data(APP_BUF + 4, 4);
/** Where the core builds its own frames (never the application's area). */
const BUILD = memory.data(MAX_FRAME + 4, 4);

let lsn: u32 = 0;
let nextPacket: u32 = 1;
let nowUs: i64 = 0;
let ready: bool = false;

export function core_init(): i32 {
  counters_reset();
  crc32c_init();
  pools_init();
  sched_init();
  decoder_reset();
  inbox_init();
  session_defaults();
  qos_init();
  events_init();
  replay_reset();
  lsn = 0;
  nextPacket = 1;
  // Ids start at a random point of 2^40 ms until the journal says where
  // the last boot's ended (ids.ts).
  idgen_init(idgen_live(), 0, entropy(BUILD, 8) < 0 ? 0 : <i64>(load<u64>(BUILD) & ((<u64>1 << 40) - 1)));
  ready = true;
  return Status.OK;
}

export function core_ready(): bool { return ready; }
export function core_now(): i64 { return nowUs; }
export function core_next_packet(): u32 { return nextPacket++; }

@inline function is_handshake(t: u8): bool { return t == T_HELLO || t == T_WELCOME || t == T_CONFIRM; }

/** Stamp (session, LSN, time), MAC when the session asks for it, seal with
 *  the CRC, COBS it into a pool block and queue it on its class. */
export function core_queue_raw(raw: usize): i32 {
  const type = load<u8>(raw + H_TYPE);
  let flags = load<u8>(raw + H_FLAGS) & ~F_MAC;
  store<u32>(raw + H_SESSION, session_up() || type == T_WELCOME || type == T_CONFIRM ? session_wire_id() : 0);
  store<u32>(raw + H_LSN, ++lsn);
  store<u32>(raw + H_TIME, <u32>nowUs);
  const len = <i32>load<u16>(raw + H_LENGTH);
  if (session_up() && cfg(CFG_AUTH) == AUTH_FRAME_MAC && !is_handshake(type)) {
    flags |= F_MAC;
    store<u8>(raw + H_FLAGS, flags);
    mac_write(raw, HEADER_SIZE + len, raw + HEADER_SIZE + len);
  } else {
    store<u8>(raw + H_FLAGS, flags);
  }
  const n = frame_seal(raw);
  // The wire block starts with the 0x00 the scheduler sends ahead of a
  // frame after an idle line (sched.ts), then the COBS bytes.
  const blk = pool_alloc(1 + n + n / 254 + 2 + BLK_HDR);
  if (blk == 0) return Status.ERR_POOL_EMPTY;
  store<u8>(blk_data(blk), 0);
  const w = frame_to_wire(raw, n, blk_data(blk) + 1, MAX_WIRE);
  if (w < 0) { pool_free(blk); return w; }
  blk_set_len(blk, w + 1);
  const st = sched_queue(<i32>flags_prio(flags), blk);
  if (st != Status.OK) pool_free(blk);
  else session_note_tx(nowUs);
  return st;
}

/** Send what the shell put in APP: payload of `len` bytes at APP+24. */
export function core_send(type: u8, flags: u8, codec: u8, channel: u8, packet: u32, len: i32): i32 {
  if (len < 0 || len > MAX_PAYLOAD) return Status.ERR_OVERSIZE;
  if (flags_prio(flags) >= <u8>PRIO_CLASSES || (flags & 0xE0) != 0) return Status.ERR_ARG;
  if (flags_qos(flags) != 0) return Status.ERR_ARG; // QoS 1/2 go through core_publish
  header_write(APP, type, flags, codec, channel, len, 0, packet, 0, 0);
  return core_queue_raw(APP);
}

/** Publish an application message (payload of `len` bytes at APP+24) on
 *  `channel` with QoS 0, 1 or 2. Returns the packet id (QoS 1/2), 0 for
 *  QoS 0, or a status. A peer that is down fails fast (ERR_LINK_DOWN). */
export function core_publish(channel: u8, qos: u8, prio: u8, codec: u8, len: i32, traced: bool = false): i64 {
  if (len < 0 || len > MAX_PAYLOAD) return Status.ERR_OVERSIZE;
  if (qos > QOS_EXACTLY_ONCE || <i32>prio >= PRIO_CLASSES) return Status.ERR_ARG;
  if (traced && len < TRACE_BYTES) return Status.ERR_ARG;
  if (!session_up() && (qos > 0 || cfg(CFG_AUTH) != AUTH_NONE)) {
    count(C_LINK_DOWN_REFUSED);
    return Status.ERR_LINK_DOWN;
  }
  header_write(APP, T_DATA, flags_make(prio, qos) | (traced ? F_TRACE : 0), codec, channel, len, 0, 0, 0, 0);
  if (qos == QOS_AT_MOST_ONCE) {
    const st = core_queue_raw(APP);
    return st < 0 ? <i64>st : 0;
  }
  const pid = qos_publish(APP, HEADER_SIZE + len, <u32>nowUs);
  if (pid < 0) return pid;
  transmit_entry(<u32>pid, <i32>qos, false);
  return pid;
}

/** (Re)send the in-flight message `pid` of level `qos`. */
function transmit_entry(pid: u32, qos: i32, dup: bool): bool {
  const blk = qos_entry_block(pid, qos);
  if (blk == 0) return false;
  const n = blk_len(blk);
  memory.copy(BUILD, blk_data(blk), n);
  if (dup) store<u8>(BUILD + H_FLAGS, load<u8>(BUILD + H_FLAGS) | F_DUP);
  if (core_queue_raw(BUILD) != Status.OK) return false;
  qos_mark_sent(pid, qos, nowUs, dup);
  return true;
}

function send_control(type: u8, packet: u32, len: i32): i32 {
  header_write(BUILD, type, flags_make(PRIO_CONTROL, 0), len > 0 ? CODEC_PB : 0, 0, len, 0, packet, 0, 0);
  return core_queue_raw(BUILD);
}

/** PUBACK (QoS 1) or PUBREC (QoS 2) for everything accepted so far, with
 *  the SACK bitmap of the frames held past a gap (hold.ts) when the peer
 *  knows selective repeat. */
function send_ack(qos: i32): i32 {
  const sack = session_sack();
  header_write(BUILD, qos == QOS_AT_LEAST_ONCE ? T_PUBACK : T_PUBREC, flags_make(PRIO_CONTROL, 0), CODEC_NONE, 0,
    sack ? SACK_BYTES : 0, 0, qos_ack_id(qos), 0, 0);
  if (sack) store<u8>(BUILD + HEADER_SIZE, <u8>qos_sack(qos));
  return core_queue_raw(BUILD);
}

function send_error(status: i32, packet: u32): void {
  msg_reset();
  msg_add(1, K_SINT, <u64><i64>status, 0); // the codec zig-zags it
  const n = codec_encode(CODEC_PB, BUILD + HEADER_SIZE, MAX_PAYLOAD);
  if (n >= 0) send_control(T_ERROR, packet, n);
}

/** Build a reply in BUILD: header from the request, a new type, payload of
 *  `len` bytes at BUILD+24, the request's priority class (an emergency
 *  ping is answered as urgently as it was asked). */
function reply(req: usize, type: u8, codec: u8, len: i32): i32 {
  const prio = flags_prio(load<u8>(req + H_FLAGS));
  header_write(BUILD, type, flags_make(prio, 0), codec, load<u8>(req + H_CHANNEL), len,
    0, load<u32>(req + H_PACKET), 0, 0);
  return core_queue_raw(BUILD);
}

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

// ---- handshake ----

function start_hello(): void {
  session_set_bases(qos_base(1), qos_base(2), qos_epoch());
  const packet = core_next_packet();
  const n = hello_build(BUILD + HEADER_SIZE, nowUs, packet);
  send_control(T_HELLO, packet, n);
}

function on_hello(raw: usize, len: i32): void {
  if (cfg(CFG_ROLE) != ROLE_SERVER) { count(C_SESSION_REJECT); return; }
  session_set_bases(qos_base(1), qos_base(2), qos_epoch());
  const n = hello_take(raw + HEADER_SIZE, len, BUILD + HEADER_SIZE, nowUs);
  if (hello_status() != Status.OK) {
    if (hello_status() == Status.ERR_AUTH) { count(C_AUTH_FAIL); qos_event(EV_AUTH_FAIL, Status.ERR_AUTH, <u32>nowUs); }
    send_control(T_WELCOME, load<u32>(raw + H_PACKET), n);
    return;
  }
  if (!hello_was_duplicate()) replay_reset();
  send_control(T_WELCOME, load<u32>(raw + H_PACKET), n);
}

function on_welcome(raw: usize, len: i32): void {
  if (cfg(CFG_ROLE) != ROLE_CLIENT) { count(C_SESSION_REJECT); return; }
  const st = welcome_take(raw + HEADER_SIZE, len, nowUs, load<u32>(raw + H_PACKET));
  if (st != Status.OK) {
    if (st == Status.ERR_AUTH) { count(C_AUTH_FAIL); qos_event(EV_AUTH_FAIL, st, <u32>nowUs); }
    return;
  }
  replay_reset();
  qos_peer_base(session_peer_base(1), session_peer_base(2), session_peer_epoch(), session_resumed(), <u32>nowUs);
  const n = confirm_build(BUILD + HEADER_SIZE, nowUs);
  qos_event(EV_LINK_UP, 0, <u32>nowUs);
  // CONFIRM goes out before anything MAC'd, in the clear (it is a proof).
  header_write(BUILD, T_CONFIRM, flags_make(PRIO_CONTROL, 0), CODEC_PB, 0, n, 0, load<u32>(raw + H_PACKET), 0, 0);
  core_queue_raw(BUILD);
  resend_all();
}

function on_confirm(raw: usize, len: i32): void {
  if (cfg(CFG_ROLE) != ROLE_SERVER) { count(C_SESSION_REJECT); return; }
  const st = confirm_take(raw + HEADER_SIZE, len, nowUs);
  if (st == Status.ERR_AUTH) { count(C_AUTH_FAIL); qos_event(EV_AUTH_FAIL, st, <u32>nowUs); send_error(Status.ERR_AUTH, 0); return; }
  if (st == Status.OK) {
    // The client's QoS bases and numbering epoch came in its HELLO, which
    // anyone can send: they move our duplicate state only now that its
    // CONFIRM has proved the key (in auth mode 0, that it completed the
    // handshake), so a stray HELLO cannot reset what we have accepted.
    qos_peer_base(session_peer_base(1), session_peer_base(2), session_peer_epoch(), session_resumed(), <u32>nowUs);
    qos_event(EV_LINK_UP, 0, <u32>nowUs);
    resend_all();
  }
}

/** After (re)connecting, everything in flight goes out again. */
function resend_all(): void {
  qos_forget_sacks();
  for (let q = 1; q <= 2; q++) {
    for (let pid = qos_next_unacked(q, 0); pid != 0; pid = qos_next_unacked(q, pid)) {
      if (!transmit_entry(pid, q, true)) break;
    }
  }
  const rel = qos_rel_id();
  if (rel != 0 && qos_due(nowUs, 0) == 3) { send_control(T_PUBREL, rel, 0); qos_rel_sent(nowUs); }
}

/** A config frame: {tag = key + 1: value}. All values are checked against
 *  each other first; either all apply or none (the running config stays),
 *  and the answer says which key was refused. */
function on_config(raw: usize, len: i32): i32 {
  let st: i32 = codec_decode(load<u8>(raw + H_CODEC), raw + HEADER_SIZE, len);
  let bad: i32 = 0;
  if (st >= 0) {
    st = Status.OK;
    config_stage_begin();
    const n = msg_count();
    for (let i = 0; i < n && st == Status.OK; i++) {
      const kind = msg_kind(i);
      const v = msg_value(i);
      if (kind == K_BYTES || v > 0xFFFFFFFF) st = Status.ERR_ARG;
      else st = config_stage(msg_tag(i) - 1, <u32>v);
      if (st != Status.OK) bad = msg_tag(i);
    }
    if (st == Status.OK) st = config_stage_commit();
  } else st = Status.ERR_DECODE;
  if (st == Status.OK) {
    qos_event(EV_CONFIG, <i32>config_generation(), <u32>nowUs);
    if (qos_ids_node() != cfg(CFG_NODE)) renew_id_lease();
  }
  msg_reset();
  msg_add(1, K_SINT, <u64><i64>st, 0);
  msg_add(2, K_UINT, <u64>bad, 0);
  msg_add(3, K_UINT, <u64>config_generation(), 0);
  return encode_reply(raw, T_CONFIG_ACK);
}

// ---- receive ----

/** Is this frame allowed in, and from whom? Returns OK, or the status it
 *  is rejected with (already counted). */
function admit(raw: usize, type: u8, n: i32): i32 {
  // Link liveness and the device's nameplate are public; everything else
  // needs a session when authentication is on.
  if (is_handshake(type) || type == T_PING || type == T_PONG || type == T_IDENT_REQ) return Status.OK;
  const auth = cfg(CFG_AUTH);
  if (!session_up() && (type == T_CONFIG || type == T_LOG_REQ)) { count(C_SESSION_REJECT); return Status.ERR_SESSION; }
  if (!session_up()) {
    if (auth == AUTH_NONE && type != T_PUBACK && type != T_PUBREC && type != T_PUBREL && type != T_PUBCOMP &&
        !(type == T_DATA && flags_qos(load<u8>(raw + H_FLAGS)) != 0)) return Status.OK;
    count(C_SESSION_REJECT);
    return Status.ERR_SESSION;
  }
  if (load<u32>(raw + H_SESSION) != session_wire_id()) { count(C_SESSION_REJECT); return Status.ERR_SESSION; }
  return Status.OK;
}

/** The MAC and replay checks of auth mode 2. A frame whose CRC the decoder
 *  left to its MAC gets the CRC only if the MAC fails: a bad CRC then makes
 *  it line noise (ERR_CRC, as the decoder would have said), a good one a
 *  forgery or a wrong key (ERR_AUTH). */
function authentic(raw: usize): i32 {
  const len = <i32>load<u16>(raw + H_LENGTH);
  if ((load<u8>(raw + H_FLAGS) & F_MAC) == 0) { count(C_AUTH_FAIL); return Status.ERR_AUTH; }
  if (!mac_check(raw, HEADER_SIZE + len, raw + HEADER_SIZE + len)) {
    if (decoder_crc_deferred()) {
      const crc = decoder_deferred_crc();
      if (crc != Status.OK) return crc;
    }
    count(C_AUTH_FAIL);
    return Status.ERR_AUTH;
  }
  if (decoder_crc_deferred()) decoder_deferred_ok();
  const l = load<u32>(raw + H_LSN);
  if (replay_check(l) != Status.OK) { count(C_REPLAY); return Status.ERR_REPLAY; }
  replay_mark(l);
  return Status.OK;
}

function dispatch(raw: usize, n: i32): i32 {
  const type = load<u8>(raw + H_TYPE);
  const len = <i32>load<u16>(raw + H_LENGTH);
  const flags = load<u8>(raw + H_FLAGS);
  // In auth mode 2 an established session takes only MAC'd frames (pings
  // are answered either way, but only authentic frames prove liveness).
  let authed = true;
  if (decoder_crc_deferred() && is_handshake(type)) {
    // A MAC'd handshake frame (none is sent so): no MAC check will settle
    // its CRC, so check it here.
    const crc = decoder_deferred_crc();
    if (crc != Status.OK) return crc;
  }
  if (session_up() && cfg(CFG_AUTH) == AUTH_FRAME_MAC && !is_handshake(type)) {
    if (type == T_PING && (flags & F_MAC) == 0) authed = false;
    else if ((type == T_ERROR || type == T_PONG) && (flags & F_MAC) == 0) {
      // The peer says it lost our session (an ERROR), or shows it (a pong
      // without a MAC: it answers from outside any session, as a server
      // whose CONFIRM was lost to line noise does): check with an
      // authentic ping, instead of waiting for the heartbeats to miss.
      if (session_suspect(nowUs)) send_heartbeat();
      return Status.ERR_SESSION;
    } else {
      const a = authentic(raw);
      if (a != Status.OK) return a;
    }
  }
  if (type == T_HELLO) { on_hello(raw, len); return Status.OK; }
  if (type == T_WELCOME) { on_welcome(raw, len); return Status.OK; }
  if (type == T_CONFIRM) { on_confirm(raw, len); return Status.OK; }
  const adm = admit(raw, type, n);
  if (adm != Status.OK) {
    if (type == T_DATA || type == T_PUBREL || type == T_IDENT_REQ || type == T_PROBE_REQ || type == T_CONFIG || type == T_LOG_REQ) send_error(adm, load<u32>(raw + H_PACKET));
    return adm;
  }
  const ours = load<u32>(raw + H_SESSION) == session_wire_id();
  if (session_up() && (type == T_PING || type == T_PONG) && !ours) {
    // A ping or pong outside our session: the peer has lost it (it
    // rebooted). Without frame MACs that is all the proof there is: drop
    // and reconnect. With them, make the session prove itself first.
    if (cfg(CFG_AUTH) == AUTH_FRAME_MAC) { if (session_suspect(nowUs)) send_heartbeat(); }
    else if (type == T_PONG) { session_drop(nowUs); count(C_LINK_DOWN); qos_event(EV_LINK_DOWN, Status.ERR_SESSION, <u32>nowUs); return Status.ERR_SESSION; }
  } else if (authed && session_up() && ours) session_note_rx(nowUs);
  const packet = load<u32>(raw + H_PACKET);
  if (type == T_PING) {
    memory.copy(BUILD + HEADER_SIZE, raw + HEADER_SIZE, len);
    return reply(raw, T_PONG, load<u8>(raw + H_CODEC), len);
  }
  if (type == T_PONG && cfg(CFG_ROLE) == ROLE_CLIENT && packet == 0) return Status.OK; // heartbeat answer
  if (type == T_IDENT_REQ) {
    identity_fill();
    return encode_reply(raw, T_IDENT);
  }
  if (type == T_PROBE_REQ) {
    const st = codec_decode(load<u8>(raw + H_CODEC), raw + HEADER_SIZE, len);
    if (st < 0) return st;
    probe_run();
    return encode_reply(raw, T_PROBE_RES);
  }
  if (type == T_CONFIG) return on_config(raw, len);
  if (type == T_LOG_REQ) {
    msg_reset();
    for (let i = 0; ; i++) {
      const e = event_at(i);
      if (e == 0) break;
      msg_add(1, K_BYTES, <u64>e, <u32>EVENT_SIZE);
    }
    return encode_reply(raw, T_LOG);
  }
  if (type == T_DATA) {
    const qos = <i32>flags_qos(flags);
    const body = HEADER_SIZE + len; // the inbox keeps header + payload
    if (qos == QOS_AT_MOST_ONCE) return inbox_push(raw, body);
    const c = qos_classify(qos, packet);
    if (c == RX_DELIVER) {
      if (inbox_full()) { count(C_INBOX_DROP); return Status.ERR_RING_FULL; }
      qos_unhold(qos, packet);
      const st = qos_accept(qos, raw, body, <u32>nowUs);
      if (st != Status.OK) return st;
      inbox_push(raw, body);
      qos_take_held(qos, <u32>nowUs);
    } else if (c == RX_GAP) qos_hold(qos, packet, raw, body, session_sack());
    if (c == RX_DELIVER || c == RX_DUP || qos_ack_id(qos) != 0) send_ack(qos);
    return Status.OK;
  }
  if (type == T_PUBACK || type == T_PUBREC || type == T_PUBCOMP) {
    const sack = type != T_PUBCOMP && len >= SACK_BYTES ? <i32>load<u8>(raw + HEADER_SIZE) : -1;
    const r = qos_ack(type, packet, sack, nowUs);
    if (r == 1) { send_control(T_PUBREL, qos_rel_id(), 0); qos_rel_sent(nowUs); }
    // A SACK names what was lost: resend it now. From a peer without SACKs
    // a duplicate ack says a message was lost: go back now, not at the timeout.
    if (qos_take_fast()) send_pending();
    const lost = qos_take_dup();
    if (lost != 0) go_back(lost);
    return r < 0 ? r : Status.OK;
  }
  if (type == T_PUBREL) {
    // Everything up to our high-water mark was accepted: complete it.
    const upto = qos_ack_id(2);
    send_control(T_PUBCOMP, <i32>(packet - upto) <= 0 ? packet : upto, 0);
    return Status.OK;
  }
  if (type == T_ERROR) {
    // The peer lost our session (it rebooted, or timed us out): reconnect
    // now instead of waiting for heartbeats to miss.
    if (cfg(CFG_ROLE) == ROLE_CLIENT && session_up() && codec_decode(CODEC_PB, raw + HEADER_SIZE, len) >= 0) {
      const s = <i32>(<i64>((msg_get(1, 0) >> 1) ^ (0 - (msg_get(1, 0) & 1))));
      if (s == Status.ERR_SESSION || s == Status.ERR_AUTH) { session_drop(nowUs); count(C_LINK_DOWN); qos_event(EV_LINK_DOWN, s, <u32>nowUs); }
    }
    return inbox_push(raw, HEADER_SIZE + len);
  }
  if (type == T_PONG || type == T_IDENT || type == T_PROBE_RES || type == T_RESET_REQ || type == T_CONFIG_ACK || type == T_LOG) return inbox_push(raw, HEADER_SIZE + len);
  count(C_ERR_TYPE);
  return Status.ERR_TYPE;
}

/** Process `len` bytes the shell copied to RX_BUF. Returns the number of
 *  valid frames completed; errors are counted (qn_counter) and the last
 *  one is in qn_last_error. */
export function core_rx(len: i32): i32 {
  if (len < 0 || len > RX_STAGE) return Status.ERR_ARG;
  let frames = 0;
  let i = 0;
  while (i < len) {
    // Frame MACs are checked for the frames of this session: the decoder
    // may leave their CRC to the MAC (frame_check). Set per frame, since a
    // frame can bring the session up or down.
    decoder_mac_first(session_up() && cfg(CFG_AUTH) == AUTH_FRAME_MAC);
    const r = decoder_feed(RX_BUF + i, len - i);
    i += decoder_consumed();
    if (r == FRAME_READY) {
      // A frame the MAC check found corrupt (its deferred CRC) is no frame.
      if (dispatch(decoder_frame(), decoder_frame_len()) != Status.ERR_CRC) frames++;
    }
  }
  return frames;
}

/** Advance the clock and run every timer: heartbeats, handshakes and
 *  backoff, retransmissions. */
export function core_tick(now: i64): void {
  if (now < nowUs) now = nowUs; // the core's clock never goes back
  nowUs = now;
  const t = session_tick(now);
  if (journal_ready() && idgen_lease_due(idgen_live(), now)) renew_id_lease();
  if (t == TICK_SEND_HELLO) start_hello();
  else if (t == TICK_SEND_PING) send_heartbeat(); else if (t == TICK_WENT_DOWN) count(C_LINK_DOWN);
  if (!session_up()) return;
  send_pending();
  const due = qos_due(now, rto_us());
  if (due == 1 || due == 2) {
    go_back(due);
    rto_backoff();
  } else if (due == 3) {
    send_control(T_PUBREL, qos_rel_id(), 0);
    qos_rel_sent(now);
    count(C_RETX);
    rto_backoff();
  }
}

/** Go back: resend level `qos`'s whole window in order; what does not fit
 *  in the outbox now goes at the next ticks (send_pending). */
function go_back(qos: i32): void {
  for (let pid = qos_next_unacked(qos, 0); pid != 0; pid = qos_next_unacked(qos, pid)) {
    if (!transmit_entry(pid, qos, true)) {
      qos_set_pending(qos, pid);
      break;
    }
    count(C_RETX);
  }
}

/** Messages that found the outbox full (a publish, or a resend cut short)
 *  go out in order as room frees up. */
function send_pending(): void {
  for (let q = 1; q <= 2; q++) {
    for (let p = qos_next_pending(q); p != 0; p = qos_next_pending(q)) {
      const again = p < 0;
      if (!transmit_entry(<u32>(again ? -p : p), q, again)) break;
      if (again) count(C_RETX);
    }
  }
}

function send_heartbeat(): void {
  header_write(BUILD, T_PING, flags_make(PRIO_CONTROL, 0), 0, 0, 0, 0, 0, 0, 0);
  if (core_queue_raw(BUILD) == Status.OK) count(C_HEARTBEATS);
}

/** Client: start a handshake now (the application asks to connect). */
export function core_connect(): i32 {
  if (cfg(CFG_ROLE) != ROLE_CLIENT) return Status.ERR_ARG;
  if (session_state() != 0) return Status.OK; // already connecting or up
  start_hello();
  return Status.OK;
}

/** Copy the i-th oldest inbox frame (header + payload) to APP without
 *  taking it; returns its length or 0. A shell that must make a message
 *  durable before it counts as delivered (the gateway's spool) peeks,
 *  stores, then pops. */
export function core_inbox_count(): u32 { return inbox_count(); }

export function core_inbox_peek(i: u32): i32 {
  if (i >= inbox_count()) return 0;
  const blk = inbox_at(i);
  const n = blk_len(blk);
  memory.copy(APP, blk_data(blk), n);
  return n;
}

/** Move the oldest inbox frame (header + payload) to APP; returns its
 *  length, or 0 when the inbox is empty. A QoS 2 message counts as
 *  delivered (journalled) when this returns. */
export function core_inbox_pop(): i32 {
  if (inbox_count() == 0) return 0;
  const blk = inbox_at(0);
  const n = blk_len(blk);
  memory.copy(APP, blk_data(blk), n);
  if (load<u8>(APP + H_TYPE) == T_DATA && flags_qos(load<u8>(APP + H_FLAGS)) == 2) {
    // Journalled while the frame is still in the inbox: if the record
    // makes the journal compact, the compaction carries the frame over,
    // and a power cut before the record is durable leaves it to deliver
    // again, never neither. The payload is what the block holds: its
    // length field was checked against the block on the way in.
    qos_delivered(load<u32>(APP + H_PACKET), APP, n - HEADER_SIZE, <u32>nowUs);
  }
  inbox_free(inbox_take());
  return n;
}

/** The board reports an event (trap, boot cause) into the event log. */
export function core_event(type: u8, code: i32): void { qos_event(type, code, <u32>nowUs); }

/** Open the journal over `size` bytes of storage and recover QoS 2 state,
 *  and where the ids of the last boot ended, and its node. */
export function core_journal_open(size: u32): i32 {
  const st = qos_recover(size, <u32>nowUs);
  session_journal_open(st == Status.OK);
  if (st != Status.OK) return st;
  if (qos_ids_lease() >= 0) idgen_resume(idgen_live(), qos_ids_lease(), nowUs);
  if (cfg(CFG_NODE) == 0 && qos_ids_node() != 0) session_config(CFG_NODE, qos_ids_node());
  return renew_id_lease();
}

/** Journal a lease on ids from now, with the node (ids.ts). */
function renew_id_lease(): i32 {
  if (!journal_ready()) return Status.OK;
  return qos_ids_write(idgen_lease_renew(idgen_live(), nowUs), cfg(CFG_NODE), <u32>nowUs);
}

/** Set a config key from the application; a new node is journalled. */
export function core_config_set(k: i32, v: u32): i32 {
  const st = session_config(k, v);
  if (st == Status.OK && k == CFG_NODE) renew_id_lease();
  return st;
}
