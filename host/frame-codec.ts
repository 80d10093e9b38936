// The pure frame codec on the host: one QN frame to wire bytes and back
// through the core's qn_frame_encode / qn_frame_decode (header, CRC-32C,
// header inverted, COBS, delimiter; the same checks as the link), with no
// session, queue or journal. For tools and tests that need the format
// only; a link goes through QnCore.send/pull/rx. Results are copies the
// caller owns.
import { QnError } from "./status.ts";
import { HEADER_SIZE, type Frame } from "./frame.ts";
import { SCRATCH, type QnCore } from "./core.ts";
import { copyOut } from "./out-pool.ts";
import { bytesArg, frameFieldArgs } from "./args.ts";

export interface FrameFields {
  type: number;
  flags?: number;
  codec?: number;
  channel?: number;
  packet?: number;
}

const WIRE_CAP = SCRATCH.AREA;

export class FrameCodec {
  private readonly u8: Uint8Array;
  private readonly x: QnCore["x"];
  private readonly app: number;
  private readonly wire: number;
  private readonly maxPayload: number;

  constructor(private readonly core: QnCore) {
    this.u8 = core.mem;
    this.x = core.x;
    this.app = core.x.qn_app_buf();
    this.wire = core.scratchBase + SCRATCH.WIRE;
    this.maxPayload = core.x.qn_max_payload();
  }

  /** The wire bytes of one frame (COBS, 0x00-terminated). */
  encode(h: FrameFields, payload: Uint8Array): Uint8Array {
    bytesArg(payload, this.maxPayload, "frame encode: payload");
    frameFieldArgs(h, "frame encode");
    this.u8.set(payload, this.app + HEADER_SIZE);
    this.core.live("frame encode");
    let n: number;
    try {
      n = this.x.qn_frame_encode(
        h.type,
        h.flags ?? 2,
        h.codec ?? 0,
        h.channel ?? 0,
        h.packet ?? 0,
        payload.length,
        this.wire,
        WIRE_CAP,
      );
    } catch (e) {
      throw this.core.trapped("frame encode", e);
    }
    if (n < 0) throw new QnError(n, "frame encode");
    return copyOut(this.u8, this.wire, n);
  }

  /** Header and payload of one wire frame; QnError with the link's status
   *  (ERR_CRC, ERR_TRUNCATED, ERR_OVERSIZE, ...) for a bad one. */
  decode(bytes: Uint8Array): Frame {
    bytesArg(bytes, WIRE_CAP, "frame decode: input");
    this.u8.set(bytes, this.wire);
    this.core.live("frame decode");
    let n: number;
    try {
      n = this.x.qn_frame_decode(this.wire, bytes.length);
    } catch (e) {
      throw this.core.trapped("frame decode", e);
    }
    if (n < 0) throw new QnError(n, "frame decode");
    return this.core.frameAt(this.app, HEADER_SIZE + n);
  }
}
