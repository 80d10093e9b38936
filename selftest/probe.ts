// Runs a core probe on the target over the link: a PROBE_REQ frame with
// {1: check number, 2: argument}, answered by the target's core with
// {1: check number, 2: status, 3..: metrics}.
import type { Field } from "../host/core.ts";
import { Codec, FrameType } from "../host/frame.ts";
import { FieldKind } from "../host/abi.ts";
import { zigzagDecode } from "../host/zigzag.ts";
import type { Peer } from "../host/peer.ts";

export interface ProbeResult {
  status: number;
  m: Map<number, bigint>;
}

export async function runProbe(peer: Peer, check: number, arg = 0n, timeoutMs = 3000): Promise<ProbeResult> {
  const payload = peer.core.encode(Codec.PB, [
    { tag: 1, kind: FieldKind.UINT, value: BigInt(check) },
    { tag: 2, kind: FieldKind.UINT, value: arg },
  ]);
  const reply = await peer.request(FrameType.PROBE_REQ, { codec: Codec.PB, payload, timeoutMs });
  const fields: Field[] = peer.core.decode(reply.codec, reply.payload);
  const m = new Map(fields.map((f) => [f.tag, f.value]));
  if (Number(m.get(1)) !== check) throw new Error(`probe ${check}: reply is for probe ${m.get(1)}`);
  return { status: Number(zigzagDecode(m.get(2) ?? 0n)), m };
}

/** Identity fields of the target, by field number (docs/PROTOCOL.md). */
export async function identify(peer: Peer, timeoutMs = 3000): Promise<Map<number, Field>> {
  const reply = await peer.request(FrameType.IDENT_REQ, { codec: Codec.PB, timeoutMs });
  if (reply.type !== FrameType.IDENT) throw new Error(`identity: unexpected frame type 0x${reply.type.toString(16)}`);
  return new Map(peer.core.decode(reply.codec, reply.payload).map((f) => [f.tag, f]));
}

export const text = (f?: Field) => (f?.bytes ? new TextDecoder().decode(f.bytes) : "");
export const num = (f?: Field) => Number(f?.value ?? 0n);
