// The QN frame: a fixed 24-byte little-endian header, the payload, and a
// CRC-32C over both. On the wire a frame is COBS-encoded and ends with 0x00,
// its header inverted first (frame_to_wire).
//
//   0        1        2        3        4        5        6       8
//   +--------+--------+--------+--------+--------+--------+-------+
//   |version |  type  | flags  | codec  |channel |reserved| length|
//   +--------+--------+--------+--------+--------+--------+-------+
//   8                12               16               20        24
//   +----------------+----------------+----------------+---------+
//   |  session id    |   packet id    |      LSN       |timestamp|
//   +----------------+----------------+----------------+---------+
//   24               24+length        28+length
//   +----------------+----------------+
//   |    payload     |  CRC-32C (LE)  |
//   +----------------+----------------+
//
// flags: bits 0-1 priority class (0 emergency, 1 control, 2 bulk),
//        bits 2-3 QoS (0, 1, 2), bit 4 DUP (retransmission), bit 5 MAC:
//        an 8-byte frame MAC sits between payload and CRC (auth mode 2),
//        bit 6 TRACE: the payload starts with a 26-byte W3C trace context
//        (version, trace-id 16, parent-id 8, trace-flags; counted in
//        length), bit 7 zero.
import { HEADER_SIZE, CRC_SIZE, MAX_PAYLOAD, PROTOCOL_VERSION } from "./config";
import { Status } from "./status";
import { crc32c } from "./crc32c";
import { cobs_encode, cobs_decode } from "./cobs";

/** Offsets of the header fields (the diagram above). */
export const H_VERSION: usize = 0; // u8 protocol version
export const H_TYPE: usize = 1; // u8 frame type (T_*)
export const H_FLAGS: usize = 2; // u8 flags (F_*)
export const H_CODEC: usize = 3; // u8 payload codec id (CODEC_*)
export const H_CHANNEL: usize = 4; // u8 channel
export const H_RESERVED: usize = 5; // u8, zero
export const H_LENGTH: usize = 6; // u16 payload length
export const H_SESSION: usize = 8; // u32 session id
export const H_PACKET: usize = 12; // u32 packet id
export const H_LSN: usize = 16; // u32 log sequence number
export const H_TIME: usize = 20; // u32 sender's time, µs (low 32 bits)

/** Frame types. An answer's type is above its request's, most often the next one (PING 0x01, PONG 0x02). */
export const T_PING: u8 = 0x01; // liveness request (also the heartbeat)
export const T_PONG: u8 = 0x02; // answer to PING
export const T_IDENT_REQ: u8 = 0x03; // identity request
export const T_IDENT: u8 = 0x04; // identity of the core and board
export const T_PROBE_REQ: u8 = 0x05; // run a selftest probe
export const T_PROBE_RES: u8 = 0x06; // a probe's result
export const T_HELLO: u8 = 0x08; // handshake, client to server
export const T_WELCOME: u8 = 0x09; // handshake, server to client
export const T_CONFIRM: u8 = 0x0A; // handshake, client's proof
export const T_DATA: u8 = 0x10; // application message
export const T_PUBACK: u8 = 0x11; // QoS 1 acknowledgement
export const T_PUBREC: u8 = 0x12; // QoS 2 received
export const T_PUBREL: u8 = 0x13; // QoS 2 released
export const T_PUBCOMP: u8 = 0x14; // QoS 2 complete
export const T_RESET_REQ: u8 = 0x20; // to the application: reset the device (needs a session)
export const T_CONFIG: u8 = 0x21; // new device config, applied all or nothing (needs a session)
export const T_CONFIG_ACK: u8 = 0x22; // answer to CONFIG
export const T_LOG_REQ: u8 = 0x23; // the device's event log (needs a session)
export const T_LOG: u8 = 0x24; // answer to LOG_REQ
export const T_ERROR: u8 = 0x7F; // a status for the peer

/** Flags (header byte 2): two fields and four bits. */
export const F_PRIO_MASK: u8 = 0x03; // bits 0-1: priority class (PRIO_*)
export const F_QOS_SHIFT: u8 = 2; // bits 2-3: QoS level (QOS_*)
export const F_QOS_MASK: u8 = 0x0C;
export const F_DUP: u8 = 0x10; // a retransmission
export const F_MAC: u8 = 0x20; // an 8-byte frame MAC sits between payload and CRC
export const F_TRACE: u8 = 0x40; // the payload starts with a W3C trace context
export const F_RESERVED: u8 = 0x80; // zero
/** The binary W3C trace context a TRACE frame's payload starts with. */
export const TRACE_BYTES: i32 = 26;
export const MAC_BYTES: i32 = 8; // bytes of the frame MAC (flag MAC)
/** A PUBACK or PUBREC for id n carries one payload byte, the SACK bitmap:
 *  bit i set when the receiver holds id n + 2 + i (n + 1 is the gap). */
export const SACK_BYTES: i32 = 1;

/** The QoS field's mask before its shift (two bits). */
const QOS_FIELD: u8 = F_QOS_MASK >> F_QOS_SHIFT;
@inline export function flags_make(prio: u8, qos: u8): u8 { return (prio & F_PRIO_MASK) | ((qos & QOS_FIELD) << F_QOS_SHIFT); }
@inline export function flags_prio(f: u8): u8 { return f & F_PRIO_MASK; }
@inline export function flags_qos(f: u8): u8 { return (f >> F_QOS_SHIFT) & QOS_FIELD; }

/** Write a header at `dst`. */
export function header_write(dst: usize, type: u8, flags: u8, codec: u8, channel: u8,
                             len: i32, session: u32, packet: u32, lsn: u32, time: u32): void {
  store<u8>(dst + H_VERSION, PROTOCOL_VERSION);
  store<u8>(dst + H_TYPE, type);
  store<u8>(dst + H_FLAGS, flags);
  store<u8>(dst + H_CODEC, codec);
  store<u8>(dst + H_CHANNEL, channel);
  store<u8>(dst + H_RESERVED, 0);
  store<u16>(dst + H_LENGTH, <u16>len);
  store<u32>(dst + H_SESSION, session);
  store<u32>(dst + H_PACKET, packet);
  store<u32>(dst + H_LSN, lsn);
  store<u32>(dst + H_TIME, time);
}

/** Append the CRC to a frame whose header+payload is at `raw`; returns the
 *  raw frame length. */
export function frame_seal(raw: usize): i32 {
  const len = <i32>load<u16>(raw + H_LENGTH);
  const body = HEADER_SIZE + len + ((load<u8>(raw + H_FLAGS) & F_MAC) != 0 ? MAC_BYTES : 0);
  store<u32>(raw + body, crc32c(raw, body));
  return body + CRC_SIZE;
}

/** Invert the 24 header bytes at `raw` (each byte XOR 0xFF), in place.
 *
 *  Why: COBS ends a block at every 0x00, and a header is mostly zeros
 *  (channel 0, reserved, length high byte, packet ids, LSNs and times of a
 *  young link): a 32-byte message's header held 10 to 20 of them. Inverted,
 *  those are 0xFF, which these fields rarely hold. On the Cortex-M7 every
 *  block is a turn of the encoder's and the streaming decoder's loops, so
 *  this takes ~30 % off sending and receiving a short frame (the wire
 *  length is the same). The CRC and the MAC cover the header as written
 *  (not inverted). */
export function header_flip(raw: usize): void {
  store<u64>(raw, ~load<u64>(raw));
  store<u64>(raw, ~load<u64>(raw, 8), 8);
  store<u64>(raw, ~load<u64>(raw, 16), 16);
}

/** A sealed frame of `n` bytes at `raw` to wire bytes at `dst` (`cap`):
 *  header inverted, COBS, delimiter. `raw` is left as it was. Returns the
 *  wire length or a status. */
export function frame_to_wire(raw: usize, n: i32, dst: usize, cap: i32): i32 {
  header_flip(raw);
  const w = cobs_encode(raw, n, dst, cap);
  header_flip(raw);
  return w;
}

/** Wire bytes (`len`, no delimiter) at `src` back to the raw frame at `dst`
 *  (`cap` bytes, at least HEADER_SIZE): the length, or a status. */
export function frame_from_wire(src: usize, len: i32, dst: usize, cap: i32): i32 {
  const n = cobs_decode(src, len, dst, cap);
  if (n >= 0) header_flip(dst);
  return n;
}

/** Returned by frame_check(.., macFirst) for an intact-looking MAC'd frame
 *  whose CRC it left to the MAC (positive: not an error). */
export const CRC_DEFERRED: i32 = 1;

/** Validate a raw (COBS-decoded) frame of `n` bytes. Order of checks gives
 *  each failure one status: too short, version, length, CRC.
 *
 *  With `macFirst` (the receiver holds a session with frame MACs), a frame
 *  carrying a MAC gets the structural checks only and CRC_DEFERRED: the
 *  MAC is then checked first, over the same bytes and stronger than any
 *  CRC, and the CRC only when the MAC fails, to tell line noise (ERR_CRC)
 *  from a forgery (ERR_AUTH). That saves the CRC pass on every good frame,
 *  the one that counts on the device. */
export function frame_check(raw: usize, n: i32, macFirst: bool = false): i32 {
  if (n < HEADER_SIZE + CRC_SIZE) return Status.ERR_TRUNCATED;
  const len = <i32>load<u16>(raw + H_LENGTH);
  if (len > MAX_PAYLOAD) return Status.ERR_OVERSIZE;
  const flags = load<u8>(raw + H_FLAGS);
  if ((flags & F_TRACE) != 0 && len < TRACE_BYTES) return Status.ERR_TRUNCATED;
  const mac = (flags & F_MAC) != 0;
  const body = HEADER_SIZE + len + (mac ? MAC_BYTES : 0);
  if (n < body + CRC_SIZE) return Status.ERR_TRUNCATED;
  if (n > body + CRC_SIZE) return Status.ERR_OVERSIZE;
  // A version byte or header field that does not pass takes the CRC path,
  // so a corrupt byte stays a CRC error.
  const fields = header_fields_ok(raw);
  if (macFirst && mac && fields && load<u8>(raw + H_VERSION) == PROTOCOL_VERSION) return CRC_DEFERRED;
  if (!frame_crc_ok(raw, n)) return Status.ERR_CRC;
  // Version is checked after the CRC: a corrupt byte 0 is a CRC error, only
  // an intact frame from another protocol version is ERR_VERSION.
  if (load<u8>(raw + H_VERSION) != PROTOCOL_VERSION) return Status.ERR_VERSION;
  if (!fields) return Status.ERR_HEADER;
  return Status.OK;
}

/** The header fields the receive path indexes by or branches on, checked
 *  here once for every received frame so no later layer meets a value it
 *  has no slot for: the priority class (0-2: the scheduler has three
 *  outboxes), the QoS (0-2), flag bit 7 and the reserved byte (both zero).
 *  The length was checked above; type, codec and channel are looked up,
 *  never indexed, and an unknown one is refused where it is looked up. */
@inline export function header_fields_ok(raw: usize): bool {
  const f = <u32>load<u8>(raw + H_FLAGS);
  return (f & F_PRIO_MASK) != F_PRIO_MASK && (f & F_QOS_MASK) != F_QOS_MASK && (f & F_RESERVED) == 0 && load<u8>(raw + H_RESERVED) == 0;
}

/** Is the `n` bytes at `raw` a frame body as the inbox and the journal
 *  keep it (header + payload, no MAC or CRC): this version, a length field
 *  that is the rest of the `n` bytes, header fields in range? For bytes
 *  that come back from storage, where the CRC covered the record and not
 *  the frame's own fields. */
export function frame_body_ok(raw: usize, n: i32): bool {
  if (n < HEADER_SIZE || n > HEADER_SIZE + MAX_PAYLOAD) return false;
  const len = <i32>load<u16>(raw + H_LENGTH);
  if (len != n - HEADER_SIZE) return false;
  if ((load<u8>(raw + H_FLAGS) & F_TRACE) != 0 && len < TRACE_BYTES) return false;
  return load<u8>(raw + H_VERSION) == PROTOCOL_VERSION && header_fields_ok(raw);
}

/** Does the CRC of a structurally checked frame of `n` bytes match? */
export function frame_crc_ok(raw: usize, n: i32): bool {
  return load<u32>(raw + n - CRC_SIZE) == crc32c(raw, n - CRC_SIZE);
}
