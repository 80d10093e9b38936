// An application message as the host receives it: a DATA frame's channel,
// QoS level, priority class, codec and packet id, and its payload with the
// W3C trace context (a TRACE frame's first 26 bytes) split off.
import { Flag, FrameType, flagsPrio, flagsQos, type Frame } from "./frame.ts";
import type { Prio, Qos } from "./abi.ts";
import { splitTraced, type TraceContext } from "./trace.ts";

export interface Message {
  channel: number;
  qos: Qos;
  prio: Prio;
  /** Codec id of the payload (Codec.NONE: raw bytes). */
  codec: number;
  /** Packet id (0 for QoS 0). */
  packet: number;
  payload: Uint8Array;
  /** The trace context the sender attached, or null. */
  trace: TraceContext | null;
}

/** The message a frame carries; null for a frame that is not DATA. */
export function messageOf(f: Frame): Message | null {
  if (f.type !== FrameType.DATA) return null;
  const traced = (f.flags & Flag.TRACE) !== 0;
  const { context, body } = traced ? splitTraced(f.payload) : { context: null, body: f.payload };
  return {
    channel: f.channel,
    qos: flagsQos(f.flags) as Qos,
    prio: flagsPrio(f.flags) as Prio,
    codec: f.codec,
    packet: f.packet,
    payload: body,
    trace: context,
  };
}
