// Frame constants and header layout on the host side; they mirror
// assembly/frame.ts and docs/PROTOCOL.md (the tests pin both to the wire
// vectors, so a drift fails loudly).
export const HEADER_SIZE = 24;
export const CRC_SIZE = 4;

export const FrameType = {
  PING: 0x01, PONG: 0x02, IDENT_REQ: 0x03, IDENT: 0x04,
  PROBE_REQ: 0x05, PROBE_RES: 0x06, HELLO: 0x08, WELCOME: 0x09, CONFIRM: 0x0a,
  DATA: 0x10, PUBACK: 0x11, PUBREC: 0x12, PUBREL: 0x13, PUBCOMP: 0x14, RESET_REQ: 0x20, ERROR: 0x7f,
} as const;

/** Header flag bits above priority and QoS (assembly/frame.ts). */
export const Flag = { DUP: 0x10, MAC: 0x20, TRACE: 0x40 } as const;
/** Bytes of the binary W3C trace context a TRACE frame's payload starts with. */
export const TRACE_BYTES = 26;

export const Prio = { EMERGENCY: 0, CONTROL: 1, BULK: 2 } as const;
export const Codec = { NONE: 0, PB: 1, JSON: 2 } as const;

export const Counter = {
  BYTES_IN: 0, FRAMES_IN: 1, ERR_CRC: 2, ERR_OVERSIZE: 3, ERR_TRUNCATED: 4, ERR_VERSION: 5,
  ERR_COBS: 6, FRAMES_OUT: 7, BYTES_OUT: 8, POOL_FAIL: 9, RING_FULL: 10, INBOX_DROP: 11,
  ERR_TYPE: 12, PREEMPT: 13, TRAPS: 14, AUTH_FAIL: 15, REPLAY: 16, SESSION_REJECT: 17,
  DUP_SUPPRESSED: 18, RETX: 19, OOO_DROP: 20, LINK_DOWN_REFUSED: 21, JOURNAL_FAIL: 22, HEARTBEATS: 23, LINK_DOWN: 24,
  ERR_HEADER: 25,
} as const;

export interface FrameHeader {
  version: number; type: number; flags: number; codec: number; channel: number;
  length: number; session: number; packet: number; lsn: number; time: number;
}

export interface Frame extends FrameHeader { payload: Uint8Array }

export function flags(prio: number, qos = 0): number { return (prio & 3) | ((qos & 3) << 2); }
