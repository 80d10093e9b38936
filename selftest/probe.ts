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

/** How long a request of a check that verifies QN itself (not the line)
 *  keeps retrying, ms: each attempt is the peer's attempt time, so a noisy
 *  line that loses a third of the round trips still answers within it
 *  (20 attempts lost in a row at 1 in 3 is 3e-10), while a target that
 *  does not answer at all still fails in seconds, not minutes. */
export const PATIENT_MS = 10_000;

export async function runProbe(peer: Peer, check: number, arg = 0n, timeoutMs = PATIENT_MS): Promise<ProbeResult> {
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
export async function identify(peer: Peer, timeoutMs = PATIENT_MS): Promise<Map<number, Field>> {
  const reply = await peer.request(FrameType.IDENT_REQ, { codec: Codec.PB, timeoutMs });
  if (reply.type !== FrameType.IDENT) throw new Error(`identity: unexpected frame type 0x${reply.type.toString(16)}`);
  return new Map(peer.core.decode(reply.codec, reply.payload).map((f) => [f.tag, f]));
}

export const text = (f?: Field) => (f?.bytes ? new TextDecoder().decode(f.bytes) : "");
export const num = (f?: Field) => Number(f?.value ?? 0n);
