// The frame on the host side: the decoded header and payload, and the
// flags byte's two fields. The numbers (frame types, flags, priorities,
// codecs, counters, sizes) are generated from assembly/ (host/abi.ts).
import { Flag } from "./abi.ts";

export { HEADER_SIZE, CRC_SIZE, MAC_BYTES, TRACE_BYTES, PROTOCOL_VERSION } from "./abi.ts";
export { FrameType, Flag, HeaderOffset, Prio, Qos, Codec, Counter } from "./abi.ts";

export interface FrameHeader {
  version: number;
  type: number;
  flags: number;
  codec: number;
  channel: number;
  length: number;
  session: number;
  packet: number;
  lsn: number;
  time: number;
}

export interface Frame extends FrameHeader {
  payload: Uint8Array;
}

/** The header fields a host sets on a frame it builds (the rest the core
 *  fills in): type always; flags, codec, channel and packet default to the
 *  control class, no codec, channel 0 and a fresh packet id (0 for the pure
 *  frame codec). */
export interface FrameFields {
  type: number;
  flags?: number;
  codec?: number;
  channel?: number;
  packet?: number;
}

/** The flags byte for priority class `prio` and QoS level `qos`. */
export function flags(prio: number, qos = 0): number {
  return (prio & Flag.PRIO_MASK) | ((qos << Flag.QOS_SHIFT) & Flag.QOS_MASK);
}

/** The priority class in a flags byte. */
export function flagsPrio(f: number): number {
  return f & Flag.PRIO_MASK;
}

/** The QoS level in a flags byte. */
export function flagsQos(f: number): number {
  return (f & Flag.QOS_MASK) >> Flag.QOS_SHIFT;
}
