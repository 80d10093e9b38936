// The pure frame codec: one frame to wire bytes and back, outside any
// session, queue or journal. It is what the link does to a frame (header,
// CRC-32C, header inverted, COBS, delimiter; and the same checks on the
// way in), offered on its own for tools that only need the format (a
// sniffer, a bridge that re-frames, the host codec benchmark). The live link keeps using its
// queues and the streaming decoder (decoder.ts), whose state this never
// touches.
import { HEADER_SIZE, MAX_PAYLOAD, MAX_FRAME } from "./config";
import { Status } from "./status";
import { header_write, frame_seal, frame_check, frame_to_wire, frame_from_wire, F_MAC, F_TRACE, TRACE_BYTES, H_LENGTH } from "./frame";

/** Encode a frame whose payload (`len` bytes) is at `area` + 24 into `dst`
 *  (`cap` bytes): header from the arguments (session, LSN and time 0), CRC,
 *  header inverted, COBS, delimiter. Returns the wire length or a status. A MAC needs a
 *  session key, so F_MAC is refused here. */
export function frame_encode(area: usize, type: u8, flags: u8, codec: u8, channel: u8, packet: u32, len: i32, dst: usize, cap: i32): i32 {
  if (len < 0 || len > MAX_PAYLOAD) return Status.ERR_OVERSIZE;
  if ((flags & F_MAC) != 0) return Status.ERR_ARG;
  if ((flags & F_TRACE) != 0 && len < TRACE_BYTES) return Status.ERR_ARG;
  header_write(area, type, flags, codec, channel, len, 0, packet, 0, 0);
  return frame_to_wire(area, frame_seal(area), dst, cap);
}

/** Decode one wire frame of `len` bytes at `src` (its 0x00 delimiters, if
 *  included, are skipped) into `area` (header + payload), checked as the
 *  link checks it: COBS, length, CRC, version. Returns the payload length
 *  or a status. A frame MAC is not verified (no session key here). */
export function frame_decode(src: usize, len: i32, area: usize): i32 {
  if (len > 0 && load<u8>(src + len - 1) == 0) len--;
  if (len > 0 && load<u8>(src) == 0) { src++; len--; }
  if (len <= 0) return Status.ERR_TRUNCATED;
  const n = frame_from_wire(src, len, area, MAX_FRAME);
  // A 0x00 inside, or a COBS block running past the end, is a frame cut
  // short: ERR_TRUNCATED, as the link's decoder reports it (PROTOCOL.md
  // section 2, decoder checks), not the COBS primitive's ERR_COBS.
  if (n < 0) return n == Status.ERR_NO_SPACE ? Status.ERR_OVERSIZE : n == Status.ERR_COBS ? Status.ERR_TRUNCATED : n;
  const st = frame_check(area, n);
  if (st != Status.OK) return st;
  return <i32>load<u16>(area + H_LENGTH);
}
