// The pure frame codec on the host: one QN frame to wire bytes and back
// through the core's qn_frame_encode / qn_frame_decode (header, CRC-32C,
// header inverted, COBS, delimiter; the same checks as the link), with no
// session, queue or journal. For tools and tests that need the format
// only; a link goes through QnCore.send/pull/rx. Results are copies the
// caller owns.
import type { Frame, FrameFields } from "./frame.ts";
import type { QnCore } from "./core.ts";

export type { FrameFields } from "./frame.ts";

export class FrameCodec {
  constructor(private readonly core: QnCore) {}

  /** The wire bytes of one frame (COBS, 0x00-terminated). */
  encode(h: FrameFields, payload: Uint8Array): Uint8Array {
    return this.core.frameEncode(h, payload);
  }

  /** Header and payload of one wire frame; QnError with the link's status
   *  (ERR_CRC, ERR_TRUNCATED, ERR_OVERSIZE, ...) for a bad one. */
  decode(bytes: Uint8Array): Frame {
    return this.core.frameDecode(bytes);
  }
}
