// The session layer: handshake with mutual challenge-response, session ids,
// heartbeats, the circuit breaker, and reconnect with exponential backoff.
// Both roles live here: a CLIENT starts handshakes and reconnects; a SERVER
// answers them. Everything is driven by frames in and by session_tick(now),
// so a simulated clock can test every timeout without sleeping.
//
// Handshake (docs/PROTOCOL.md section 6):
//   client -> HELLO   {1 version, 2 caps, 3 max payload, 4 nonce Nc, 5 resume token,
//                      6 node, 7 auth mode, 8 qos1 base, 9 qos2 base, 10 qos2 epoch}
//   server -> WELCOME {1 status, 2 version, 3 caps, 4 max payload, 5 nonce Ns,
//                      6 session id (u64), 7 proof_s, 8 resumed, 9 token,
//                      10 heartbeat ms, 11 qos1 base, 12 qos2 base, 13 qos2 epoch,
//                      14 key id (when provisioned)}
//   client -> CONFIRM {1 proof_c}
// proof_s = HMAC(K, "QNS" Nc Ns sid), proof_c = HMAC(K, "QNC" Ns Nc sid),
// session key = HMAC(K, "QNK" Nc Ns sid). The client is up once it has
// checked proof_s and sent CONFIRM; the server once it has checked proof_c.
import { Status } from "./status";
import { PROTOCOL_VERSION, MAX_PAYLOAD, PRIO_CLASSES, QOS_AT_LEAST_ONCE } from "./config";
import { K_UINT, K_SINT, K_BYTES, msg_reset, msg_add, msg_get, msg_find, msg_len, msg_value } from "./codec/fields";
import { pb_encode, pb_decode } from "./codec/pb";
import { hmac_key, hmac_begin, hmac_update, hmac_end, ct_equal } from "./crypto/hmac";
import { mac_key } from "./mac";
import { entropy } from "./bindings/env";
import { idgen_next, idgen_live } from "./ids";
import { codecs_built } from "./codec/registry";

/** Roles (config key CFG_ROLE). */
export const ROLE_SERVER: u32 = 0; // answers handshakes (the device)
export const ROLE_CLIENT: u32 = 1; // starts handshakes and reconnects with backoff (the host)
/** Authentication modes (config key CFG_AUTH). */
export const AUTH_NONE: u32 = 0; // no authentication
export const AUTH_HANDSHAKE: u32 = 1; // mutual HMAC proofs in the handshake
export const AUTH_FRAME_MAC: u32 = 2; // handshake proofs and a MAC on every frame of the session

/** Session states (qn_session_stat(SESSION_STAT_STATE)). */
export const SESSION_DOWN: i32 = 0; // no session; a client waits for its backoff to expire
export const SESSION_HELLO_SENT: i32 = 1; // client: waiting for WELCOME
export const SESSION_WELCOMED: i32 = 2; // server: WELCOME sent, waiting for CONFIRM
export const SESSION_UP: i32 = 3; // session established

/** qn_session_stat selectors: stable numbers. */
export const SESSION_STAT_STATE: i32 = 0; // session state (SESSION_DOWN..SESSION_UP)
export const SESSION_STAT_ID: i32 = 1; // session id (64 bits)
export const SESSION_STAT_HANDSHAKE_US: i32 = 2; // duration of the last handshake, µs (-1 before one)
export const SESSION_STAT_ATTEMPT: i32 = 3; // reconnect attempt (0 once a session is up)
export const SESSION_STAT_AUTH_FAILURES: i32 = 4; // handshakes that failed authentication
export const SESSION_STAT_SESSIONS_UP: i32 = 5; // sessions established
export const SESSION_STAT_BACKOFFS: i32 = 6; // backoff waits started
export const SESSION_STAT_RESUMED: i32 = 7; // 1 when the current session was resumed
export const SESSION_STAT_NEXT_ATTEMPT_US: i32 = 8; // time of the next handshake attempt, µs
export const SESSION_STAT_REFUSAL: i32 = 9; // status the server answered the last HELLO with (0: none)
export const SESSION_STAT_PEER_CAPS: i32 = 10; // the peer's capabilities (CAP_*)
export const SESSION_STAT_PEER_KEY_ID: i32 = 11; // the key id the server named in its WELCOME (0: none)

/** Config keys (qn_config_set, qn_config_get): stable numbers, also used
 *  by config frames. */
export const CFG_ROLE: i32 = 0; // ROLE_SERVER or ROLE_CLIENT
export const CFG_AUTH: i32 = 1; // authentication mode (AUTH_*)
export const CFG_HEARTBEAT_MS: i32 = 2; // heartbeat period, ms
export const CFG_HEARTBEAT_MISS: i32 = 3; // heartbeats missed in a row before the session is down
export const CFG_BACKOFF_BASE_MS: i32 = 4; // first reconnect wait, ms
export const CFG_BACKOFF_CAP_MS: i32 = 5; // longest reconnect wait, ms
export const CFG_HANDSHAKE_MS: i32 = 6; // time a handshake may take, ms
export const CFG_RETX_MS: i32 = 7; // QoS 1/2 retransmission timeout before a round trip is measured, ms
export const CFG_RESUME_MS: i32 = 8; // how long a session can be resumed after it went down, ms
export const CFG_NODE: i32 = 9; // node id of the id generator (0..1023)
export const CFG_RTO_MIN_MS: i32 = 10; // least QoS 1/2 retransmission timeout, ms (assembly/rto.ts)
export const CFG_RTO_MAX_MS: i32 = 11; // greatest QoS 1/2 retransmission timeout, backoff included, ms
export const CFG_COUNT: i32 = 12; // number of config keys

const CFG = memory.data(CFG_COUNT * 4, 4);
@inline export function cfg(k: i32): u32 { return load<u32>(CFG + (<usize>k << 2)); }

const KEY = memory.data(32, 4);
let keyLen: i32 = 0;
// The id of our key in the peer's registry (provisioned with the key): a
// server names itself with it in WELCOME, so one listener can serve many
// devices and look the key up before checking the proof. 0: not named.
let keyId: u32 = 0;
let peerKeyId: u32 = 0;
const NC = memory.data(16, 4);
const NS = memory.data(16, 4);
const TOKEN = memory.data(8, 4);
const PROOF = memory.data(32, 4);
const SKEY = memory.data(32, 4);
const TMP = memory.data(64, 4);

let state: i32 = SESSION_DOWN;
let sessionId: u64 = 0;
let lastRx: i64 = 0;
// The shell has stopped reading the link on purpose (backpressure): what
// the peer sends waits unread, so its silence proves nothing.
let rxHeld = false;
let lastTx: i64 = 0;
let lastPing: i64 = 0;
let stateSince: i64 = 0;
let downAt: i64 = 0;
let nextAttempt: i64 = 0;
let attempt: u32 = 0;
let handshakeStart: i64 = 0;
let lastHandshakeUs: i64 = -1;
let resumable: bool = false;
let resumed: bool = false;
let authFailures: u32 = 0;
let sessionsUp: u32 = 0;
// Recent backoff waits (ms), newest last: the selftest checks the schedule.
const BACKOFF_LOG = memory.data(8 * 4, 4);
// The attempt number each of those waits was for (1 = first retry).
const BACKOFF_ATTEMPT = memory.data(8 * 4, 4);
let backoffCount: u32 = 0;

export function session_defaults(): void {
  store<u32>(CFG + (<usize>CFG_ROLE << 2), ROLE_SERVER);
  store<u32>(CFG + (<usize>CFG_AUTH << 2), AUTH_NONE);
  store<u32>(CFG + (<usize>CFG_HEARTBEAT_MS << 2), 1000);
  store<u32>(CFG + (<usize>CFG_HEARTBEAT_MISS << 2), 3);
  store<u32>(CFG + (<usize>CFG_BACKOFF_BASE_MS << 2), 100);
  store<u32>(CFG + (<usize>CFG_BACKOFF_CAP_MS << 2), 5000);
  store<u32>(CFG + (<usize>CFG_HANDSHAKE_MS << 2), 1000);
  store<u32>(CFG + (<usize>CFG_RETX_MS << 2), 200);
  store<u32>(CFG + (<usize>CFG_RESUME_MS << 2), 60000);
  store<u32>(CFG + (<usize>CFG_NODE << 2), 0);
  store<u32>(CFG + (<usize>CFG_RTO_MIN_MS << 2), 20);
  store<u32>(CFG + (<usize>CFG_RTO_MAX_MS << 2), 2000);
  state = SESSION_DOWN;
  rxHeld = false;
  sessionId = 0;
  attempt = 0;
  nextAttempt = 0;
  resumable = false;
  backoffCount = 0;
  authFailures = 0;
  sessionsUp = 0;
  lastHandshakeUs = -1;
}

/** Set one config value; refuses what it cannot apply. */
export function session_config(k: i32, v: u32): i32 {
  const st = config_check(CFG, k, v);
  if (st == Status.OK) store<u32>(CFG + (<usize>k << 2), v);
  idgen_live().node = cfg(CFG_NODE);
  return st;
}

// A config frame is applied all or nothing: its values are staged on a copy
// of the running config, each checked against the staged values (so a new
// base and cap are checked together), and committed only if all pass.
const STAGE = memory.data(CFG_COUNT * 4, 4);
export function config_stage_begin(): void { memory.copy(STAGE, CFG, CFG_COUNT * 4); }
export function config_stage(k: i32, v: u32): i32 {
  // Role and auth mode belong to the firmware and the provisioning, not to
  // a frame from the link.
  if (k == CFG_ROLE || k == CFG_AUTH) return Status.ERR_ARG;
  const st = config_check(STAGE, k, v);
  if (st == Status.OK) store<u32>(STAGE + (<usize>k << 2), v);
  return st;
}
/** Re-check the staged base/cap and RTO min/max pairs, then apply every staged value. */
export function config_stage_commit(): i32 {
  if (load<u32>(STAGE + (<usize>CFG_BACKOFF_BASE_MS << 2)) > load<u32>(STAGE + (<usize>CFG_BACKOFF_CAP_MS << 2))) return Status.ERR_ARG;
  if (load<u32>(STAGE + (<usize>CFG_RTO_MIN_MS << 2)) > load<u32>(STAGE + (<usize>CFG_RTO_MAX_MS << 2))) return Status.ERR_ARG;
  memory.copy(CFG, STAGE, CFG_COUNT * 4);
  idgen_live().node = cfg(CFG_NODE);
  configGeneration++;
  return Status.OK;
}
let configGeneration: u32 = 0;
export function config_generation(): u32 { return configGeneration; }

function config_check(base: usize, k: i32, v: u32): i32 {
  if (k < 0 || k >= CFG_COUNT) return Status.ERR_ARG;
  if (k == CFG_ROLE && v > ROLE_CLIENT) return Status.ERR_ARG;
  if (k == CFG_AUTH && v > AUTH_FRAME_MAC) return Status.ERR_ARG;
  if ((k == CFG_HEARTBEAT_MS || k == CFG_HANDSHAKE_MS || k == CFG_RETX_MS) && (v < 1 || v > 3600000)) return Status.ERR_ARG;
  if (k == CFG_HEARTBEAT_MISS && (v < 1 || v > 100)) return Status.ERR_ARG;
  if ((k == CFG_BACKOFF_BASE_MS || k == CFG_BACKOFF_CAP_MS) && (v < 1 || v > 3600000)) return Status.ERR_ARG;
  if ((k == CFG_RTO_MIN_MS || k == CFG_RTO_MAX_MS) && (v < 1 || v > 3600000)) return Status.ERR_ARG;
  if (k == CFG_NODE && v > 0x3FF) return Status.ERR_ARG;
  // The base/cap pair is checked against the other's current value when
  // set one by one (a staged pair is checked together at commit).
  if (base == CFG) {
    if (k == CFG_BACKOFF_BASE_MS && v > cfg(CFG_BACKOFF_CAP_MS)) return Status.ERR_ARG;
    if (k == CFG_BACKOFF_CAP_MS && v < cfg(CFG_BACKOFF_BASE_MS)) return Status.ERR_ARG;
    if (k == CFG_RTO_MIN_MS && v > cfg(CFG_RTO_MAX_MS)) return Status.ERR_ARG;
    if (k == CFG_RTO_MAX_MS && v < cfg(CFG_RTO_MIN_MS)) return Status.ERR_ARG;
  }
  return Status.OK;
}

/** The pre-shared key (1..32 bytes). Never leaves the core. */
export function session_set_key(p: usize, len: i32): i32 {
  if (len < 1 || len > 32) return Status.ERR_ARG;
  memory.fill(KEY, 0, 32);
  memory.copy(KEY, p, len);
  keyLen = len;
  return Status.OK;
}

/** Forget the key (a client that serves many peers one after another:
 *  with no key, a WELCOME that names its key id waits for the shell to set
 *  that key, see welcome_take). */
export function session_forget_key(): void {
  memory.fill(KEY, 0, 32);
  keyLen = 0;
}

/** Our key id (server): sent in WELCOME field 14 when not 0. */
export function session_set_key_id(id: u32): void { keyId = id; }

@inline export function session_state(): i32 { return state; }
@inline export function session_up(): bool { return state == SESSION_UP; }
@inline export function session_id(): u64 { return sessionId; }
/** The session id as frames carry it (32 bits): the 64-bit id folded, so
 *  the time part's upper bits count too. Its low 32 bits alone hold only
 *  ten bits of the time, and repeat every 1.024 s of it for a node. */
@inline export function session_wire_id(): u32 { return <u32>(sessionId ^ (sessionId >> 32)); }
export function session_note_rx(now: i64): void { lastRx = now; suspectSince = -1; }
export function session_note_tx(now: i64): void { lastTx = now; }
export function session_resumed(): bool { return resumed; }

export function session_stat(what: i32): i64 {
  if (what == SESSION_STAT_STATE) return <i64>state;
  if (what == SESSION_STAT_ID) return <i64>sessionId;
  if (what == SESSION_STAT_HANDSHAKE_US) return lastHandshakeUs;
  if (what == SESSION_STAT_ATTEMPT) return <i64>attempt;
  if (what == SESSION_STAT_AUTH_FAILURES) return <i64>authFailures;
  if (what == SESSION_STAT_SESSIONS_UP) return <i64>sessionsUp;
  if (what == SESSION_STAT_BACKOFFS) return <i64>backoffCount;
  if (what == SESSION_STAT_RESUMED) return resumed ? 1 : 0;
  if (what == SESSION_STAT_NEXT_ATTEMPT_US) return nextAttempt;
  if (what == SESSION_STAT_REFUSAL) return <i64>lastRefusal;
  if (what == SESSION_STAT_PEER_CAPS) return <i64>peerCaps;
  if (what == SESSION_STAT_PEER_KEY_ID) return <i64>peerKeyId;
  return 0;
}

export function backoff_log(i: i32): u32 {
  if (i < 0 || i >= 8) return 0;
  return load<u32>(BACKOFF_LOG + (<usize>i << 2));
}

export function backoff_attempt(i: i32): u32 {
  if (i < 0 || i >= 8) return 0;
  return load<u32>(BACKOFF_ATTEMPT + (<usize>i << 2));
}

function set_state(s: i32, now: i64): void {
  state = s;
  stateSince = now;
}

function random_fill(p: usize, n: u32): void {
  if (entropy(p, n) < 0) {
    // No entropy source: the handshake would be replayable. Leave zeros
    // rather than pretend: the peer's proof check still binds its own fresh
    // nonce. Nothing counts it: zeros on the wire are the only sign.
    memory.fill(p, 0, n);
  }
}

function random_u32(): u32 {
  random_fill(TMP, 4);
  return load<u32>(TMP);
}

/** HMAC(K, tag || a || b || sid) into `out`. */
function proof(tag: u32, a: usize, b: usize, sid: u64, out: usize): void {
  hmac_key(KEY, keyLen);
  hmac_begin();
  store<u32>(TMP, tag);
  hmac_update(TMP, 3);
  hmac_update(a, 16);
  hmac_update(b, 16);
  store<u64>(TMP, sid);
  hmac_update(TMP, 8);
  hmac_end(out);
}
const TAG_S: u32 = 0x534E51; // "QNS" little-endian bytes
const TAG_C: u32 = 0x434E51; // "QNC"
const TAG_K: u32 = 0x4B4E51; // "QNK"

function derive_session_key(): void {
  proof(TAG_K, NC, NS, sessionId, SKEY);
  mac_key(SKEY);
}

/** Capability bits a core announces in HELLO/WELCOME (the peer's:
 *  qn_session_stat(SESSION_STAT_PEER_CAPS)). */
export const CAP_CODECS: u32 = 0xFF; // bits 0-7: payload codecs built (bit n = codec id n)
export const CAP_JOURNAL: u32 = 0x100; // bit 8: the QoS 2 journal is open
export const CAP_AUTH_SHIFT: u32 = 9; // bits 9-10: the auth mode
export const CAP_PRIO_SHIFT: u32 = 16; // bits 16-23: the number of priority classes
export const CAP_SACK: u32 = 0x800; // bit 11: selective repeat (holds QoS 1/2 frames past a gap; its acks carry the SACK byte)

let journalOpen: bool = false;
export function session_journal_open(b: bool): void { journalOpen = b; }
function capabilities(): u32 {
  return codecs_built() | (journalOpen ? CAP_JOURNAL : 0) | (cfg(CFG_AUTH) << CAP_AUTH_SHIFT) | (<u32>PRIO_CLASSES << CAP_PRIO_SHIFT) |
    (sackOn ? CAP_SACK : 0);
}
let peerCaps: u32 = 0;
// Selective repeat runs only when both ends announce it: a sender that
// does not know SACKs goes back over its window at a duplicate ack, and
// the duplicates of frames a receiver held would send it back again.
let sackOn: bool = true;
/** Act as a core without selective repeat (tests of the fallback). */
export function session_sack_off(): void { sackOn = false; }
/** Hold frames past a gap and send SACK bytes in this session? */
export function session_sack(): bool { return sackOn && (peerCaps & CAP_SACK) != 0; }
/** The status the server answered our last HELLO with (0 until one came):
 *  ERR_VERSION, ERR_AUTH... the host shows it when no session comes up. */
let lastRefusal: i32 = 0;

/** Fields the QoS layer puts in HELLO/WELCOME: its sender bases. */
let q1Base: u32 = 1;
let q2Base: u32 = 1;
let q2Epoch: u32 = 0;
export function session_set_bases(b1: u32, b2: u32, epoch: u32): void { q1Base = b1; q2Base = b2; q2Epoch = epoch; }
let peerQ2Epoch: u32 = 0;
/** The peer's QoS 2 numbering epoch (changes when its journal is new). */
export function session_peer_epoch(): u32 { return peerQ2Epoch; }
let peerQ1Base: u32 = 0;
let peerQ2Base: u32 = 0;
export function session_peer_base(qos: i32): u32 { return qos == QOS_AT_LEAST_ONCE ? peerQ1Base : peerQ2Base; }

/** Encode a handshake payload into `dst` (cap MAX_PAYLOAD) from the field
 *  table; returns the length. */
function encode(dst: usize): i32 { return pb_encode(dst, MAX_PAYLOAD); }

// ---- client side ----

let helloId: u32 = 0;

/** Build HELLO at `dst` (payload area); returns its length. `packet` is
 *  the HELLO's packet id: only a WELCOME answering it is taken, so a late
 *  answer to an earlier HELLO cannot start a second session. */
export function hello_build(dst: usize, now: i64, packet: u32): i32 {
  helloId = packet;
  peerKeyId = 0;
  random_fill(NC, 16);
  msg_reset();
  msg_add(1, K_UINT, PROTOCOL_VERSION, 0);
  msg_add(2, K_UINT, <u64>capabilities(), 0);
  msg_add(3, K_UINT, <u64>MAX_PAYLOAD, 0);
  msg_add(4, K_BYTES, <u64>NC, 16);
  if (resumable) msg_add(5, K_BYTES, <u64>TOKEN, 8);
  msg_add(6, K_UINT, <u64>cfg(CFG_NODE), 0);
  msg_add(7, K_UINT, <u64>cfg(CFG_AUTH), 0);
  msg_add(8, K_UINT, <u64>q1Base, 0);
  msg_add(9, K_UINT, <u64>q2Base, 0);
  msg_add(10, K_UINT, <u64>q2Epoch, 0);
  handshakeStart = now;
  set_state(SESSION_HELLO_SENT, now);
  return encode(dst);
}

/** A WELCOME arrived (payload at p, len). Returns OK and leaves CONFIRM's
 *  payload length in *confirmLen via the return of confirm_build, or a
 *  status to count. */
export function welcome_take(p: usize, len: i32, now: i64, packet: u32): i32 {
  if (state != SESSION_HELLO_SENT || packet != helloId) return Status.ERR_SESSION;
  if (pb_decode(p, len) < 0) return Status.ERR_DECODE;
  const st = <i32>(<i64>((msg_get(1, 0) >> 1) ^ (0 - (msg_get(1, 0) & 1))));
  peerCaps = <u32>msg_get(3, 0);
  lastRefusal = st;
  if (st != Status.OK) { fail_attempt(now); return st; }
  const ns = msg_find(5), pr = msg_find(7), tk = msg_find(9);
  if (ns < 0 || msg_len(ns) != 16 || tk < 0 || msg_len(tk) != 8) { fail_attempt(now); return Status.ERR_DECODE; }
  memory.copy(NS, <usize>msg_value(ns), 16);
  memory.copy(TOKEN, <usize>msg_value(tk), 8);
  const sid = msg_get(6, 0);
  const wasResumed = msg_get(8, 0) != 0;
  peerQ1Base = <u32>msg_get(11, 1);
  peerQ2Base = <u32>msg_get(12, 1);
  peerQ2Epoch = <u32>msg_get(13, 0);
  peerKeyId = <u32>msg_get(14, 0);
  // No key yet, and the server named its key: stay waiting for this
  // WELCOME's proof. The shell looks the key id up, sets that key and feeds
  // the same WELCOME again (an unknown id: the shell gives up, and the
  // handshake timer ends the attempt).
  if (cfg(CFG_AUTH) != AUTH_NONE && keyLen == 0 && peerKeyId != 0) return Status.ERR_NO_KEY;
  if (cfg(CFG_AUTH) != AUTH_NONE) {
    if (pr < 0 || msg_len(pr) != 32 || keyLen == 0) { auth_failed(now); return Status.ERR_AUTH; }
    const given = <usize>msg_value(pr);
    proof(TAG_S, NC, NS, sid, PROOF);
    if (!ct_equal(PROOF, given, 32)) { auth_failed(now); return Status.ERR_AUTH; }
  }
  sessionId = sid;
  resumed = wasResumed;
  resumable = true;
  return Status.OK;
}

/** CONFIRM payload at dst; the client is up once it is queued. */
export function confirm_build(dst: usize, now: i64): i32 {
  msg_reset();
  if (cfg(CFG_AUTH) != AUTH_NONE) {
    proof(TAG_C, NS, NC, sessionId, PROOF);
    msg_add(1, K_BYTES, <u64>PROOF, 32);
    derive_session_key();
  }
  msg_add(2, K_UINT, sessionId, 0);
  const n = encode(dst);
  go_up(now);
  return n;
}

function go_up(now: i64): void {
  set_state(SESSION_UP, now);
  suspectSince = -1;
  lastHandshakeUs = now - handshakeStart;
  attempt = 0;
  lastRx = now;
  lastTx = now;
  lastPing = now;
  sessionsUp++;
}

function auth_failed(now: i64): void {
  authFailures++;
  fail_attempt(now);
}

/** The attempt failed or the link went down: schedule the next HELLO. */
function fail_attempt(now: i64): void {
  if (cfg(CFG_ROLE) != ROLE_CLIENT) { set_state(SESSION_DOWN, now); return; }
  attempt++;
  let wait: u64 = <u64>cfg(CFG_BACKOFF_BASE_MS) << <u64>min<u32>(attempt - 1, 20);
  const cap = <u64>cfg(CFG_BACKOFF_CAP_MS);
  if (wait > cap) wait = cap;
  // Equal jitter: half fixed, half random, so retries from many devices
  // spread out but never come sooner than half the schedule.
  const half = wait >> 1;
  const jittered = half + (half > 0 ? <u64>(random_u32() % <u32>(half + 1)) : 0);
  store<u32>(BACKOFF_LOG + (<usize>(backoffCount & 7) << 2), <u32>jittered);
  store<u32>(BACKOFF_ATTEMPT + (<usize>(backoffCount & 7) << 2), attempt);
  backoffCount++;
  nextAttempt = now + <i64>jittered * 1000;
  set_state(SESSION_DOWN, now);
}

/** Is a HELLO due now (client)? */
export function session_hello_due(now: i64): bool {
  return cfg(CFG_ROLE) == ROLE_CLIENT && state == SESSION_DOWN && now >= nextAttempt;
}

// ---- server side ----

let helloStatus: i32 = 0;
let helloDuplicate: bool = false;
/** Was the last HELLO a repeat of the one before (same nonce)? Its bases
 *  are then old news and must not move the QoS state. */
export function hello_was_duplicate(): bool { return helloDuplicate; }
/** Status the last HELLO was answered with (OK, or why it was refused). */
export function hello_status(): i32 { return helloStatus; }

/** A HELLO arrived; builds WELCOME at dst and returns its length. When the
 *  HELLO is refused the WELCOME carries the status (hello_status()). */
export function hello_take(p: usize, len: i32, dst: usize, now: i64): i32 {
  let st: i32 = Status.OK;
  if (pb_decode(p, len) < 0) st = Status.ERR_DECODE;
  const nc = msg_find(4), tk = msg_find(5);
  if (st == Status.OK && <u32>msg_get(1, 0) != PROTOCOL_VERSION) st = Status.ERR_VERSION;
  if (st == Status.OK && (nc < 0 || msg_len(nc) != 16)) st = Status.ERR_DECODE;
  if (st == Status.OK && <u32>msg_get(7, 0) != cfg(CFG_AUTH)) st = Status.ERR_AUTH;
  if (st == Status.OK && cfg(CFG_AUTH) != AUTH_NONE && keyLen == 0) st = Status.ERR_AUTH;
  let resume = false;
  let duplicate = false;
  if (st == Status.OK) {
    // The same HELLO again (the link duplicated it, or our WELCOME was
    // lost and it was resent): answer with the same session, not a new one.
    duplicate = (state == SESSION_WELCOMED || state == SESSION_UP) && ct_equal(NC, <usize>msg_value(nc), 16);
    helloDuplicate = duplicate;
    memory.copy(NC, <usize>msg_value(nc), 16);
    peerQ1Base = <u32>msg_get(8, 1);
    peerQ2Base = <u32>msg_get(9, 1);
    peerQ2Epoch = <u32>msg_get(10, 0);
    peerCaps = <u32>msg_get(2, 0);
    resume = resumable && tk >= 0 && msg_len(tk) == 8 && ct_equal(<usize>msg_value(tk), TOKEN, 8) &&
      (state == SESSION_UP || now - downAt <= <i64>cfg(CFG_RESUME_MS) * 1000);
  }
  msg_reset();
  msg_add(1, K_SINT, <u64><i64>st, 0); // the codec zig-zags it
  msg_add(2, K_UINT, PROTOCOL_VERSION, 0);
  helloStatus = st;
  if (st != Status.OK) {
    if (st == Status.ERR_AUTH) authFailures++;
    return encode(dst);
  }
  if (duplicate) resume = resumed;
  else {
    if (!resume) {
      sessionId = idgen_next(idgen_live(), now);
      random_fill(TOKEN, 8);
    }
    random_fill(NS, 16);
  }
  msg_add(3, K_UINT, <u64>capabilities(), 0);
  msg_add(4, K_UINT, <u64>MAX_PAYLOAD, 0);
  msg_add(5, K_BYTES, <u64>NS, 16);
  msg_add(6, K_UINT, sessionId, 0);
  if (cfg(CFG_AUTH) != AUTH_NONE) {
    proof(TAG_S, NC, NS, sessionId, PROOF);
    msg_add(7, K_BYTES, <u64>PROOF, 32);
  }
  msg_add(8, K_UINT, resume ? 1 : 0, 0);
  msg_add(9, K_BYTES, <u64>TOKEN, 8);
  msg_add(10, K_UINT, <u64>cfg(CFG_HEARTBEAT_MS), 0);
  msg_add(11, K_UINT, <u64>q1Base, 0);
  msg_add(12, K_UINT, <u64>q2Base, 0);
  msg_add(13, K_UINT, <u64>q2Epoch, 0);
  if (keyId != 0) msg_add(14, K_UINT, <u64>keyId, 0);
  resumed = resume;
  resumable = true;
  if (!duplicate || state != SESSION_UP) {
    handshakeStart = now;
    set_state(SESSION_WELCOMED, now);
  }
  return encode(dst);
}

/** CONFIRM arrived: check the client's proof. */
export function confirm_take(p: usize, len: i32, now: i64): i32 {
  if (state != SESSION_WELCOMED) return Status.ERR_SESSION;
  if (pb_decode(p, len) < 0) { authFailures++; set_state(SESSION_DOWN, now); return Status.ERR_AUTH; }
  // A CONFIRM for another WELCOME than our latest: stale, ignore it.
  if (msg_get(2, 0) != sessionId) return Status.ERR_SESSION;
  if (cfg(CFG_AUTH) != AUTH_NONE) {
    const pr = msg_find(1);
    if (pr < 0 || msg_len(pr) != 32) { authFailures++; set_state(SESSION_DOWN, now); return Status.ERR_AUTH; }
    proof(TAG_C, NS, NC, sessionId, PROOF);
    if (!ct_equal(PROOF, <usize>msg_value(pr), 32)) { authFailures++; set_state(SESSION_DOWN, now); return Status.ERR_AUTH; }
    derive_session_key();
  }
  go_up(now);
  return Status.OK;
}

// ---- liveness ----

let suspectSince: i64 = -1;

/** An unauthenticated hint that the peer lost our session (its ERROR frame
 *  cannot carry a MAC: it has no session key any more). Not trusted on its
 *  own, or anyone could tear sessions down: the session must now prove
 *  itself with an authentic frame within the handshake time, or it is
 *  declared down. Returns true when the caller should send a probe ping. */
export function session_suspect(now: i64): bool {
  if (state != SESSION_UP || suspectSince >= 0) return false;
  suspectSince = now;
  return true;
}

export const TICK_NOTHING: i32 = 0;
export const TICK_SEND_PING: i32 = 1;
export const TICK_SEND_HELLO: i32 = 2;
export const TICK_WENT_DOWN: i32 = 3;

/** The shell stops (true) or resumes (false) reading the link on purpose.
 *  While held, missed answers do not take the session down (heartbeats
 *  still go out, so the peer keeps hearing from us); on release the
 *  heartbeat window starts again from `now`. */
export function session_hold_rx(held: bool, now: i64): void {
  if (rxHeld && !held) lastRx = now;
  rxHeld = held;
}

/** Run the session timers; tells the caller what to send. */
export function session_tick(now: i64): i32 {
  const hb = <i64>cfg(CFG_HEARTBEAT_MS) * 1000;
  if (state == SESSION_UP) {
    const suspectExpired = suspectSince >= 0 && now - suspectSince > <i64>cfg(CFG_HANDSHAKE_MS) * 1000;
    // `misses` heartbeats in a row unanswered, each given an interval for
    // its answer: a client pings an interval after it last sent, so the
    // last of them leaves `misses` intervals after the last frame heard and
    // is answered within the next. Counting only `misses` intervals gave
    // the last heartbeat no time at all, and two frames lost in a row to
    // line noise dropped the session.
    if (suspectExpired || (!rxHeld && now - lastRx > hb * (<i64>cfg(CFG_HEARTBEAT_MISS) + 1))) {
      suspectSince = -1;
      downAt = now;
      fail_attempt(now);
      return TICK_WENT_DOWN;
    }
    // A client pings an interval after it last sent (the server hears it),
    // and also an interval after it last heard the server while it keeps
    // sending: a stream of QoS 0 data gets no answer, and without a ping
    // the client would take the server's silence for a lost session.
    if (cfg(CFG_ROLE) == ROLE_CLIENT && (now - lastTx >= hb || (now - lastRx >= hb && now - lastPing >= hb))) {
      lastPing = now;
      return TICK_SEND_PING;
    }
    return TICK_NOTHING;
  }
  if (state == SESSION_HELLO_SENT || state == SESSION_WELCOMED) {
    if (now - stateSince > <i64>cfg(CFG_HANDSHAKE_MS) * 1000) {
      fail_attempt(now);
      return TICK_WENT_DOWN;
    }
    return TICK_NOTHING;
  }
  if (session_hello_due(now)) return TICK_SEND_HELLO;
  return TICK_NOTHING;
}

/** Drop the session (link known gone, or the application asks). */
export function session_drop(now: i64): void {
  if (state == SESSION_UP) downAt = now;
  fail_attempt(now);
}
