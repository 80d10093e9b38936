// QN frames for the board tests, written from the protocol description
// rather than taken from the core, so a board test also cross-checks the
// core's framing: 24-byte LE header + payload + CRC-32C, header inverted,
// COBS, 0x00. The numbers (frame types, flags, sizes) are the ABI's names
// (host/abi.ts), generated from assembly/.
// Also a port wrapper that collects decoded frames, and a minimal protobuf
// reader for the identity reply.
import { crc32c } from "../../tools/crc32c.mjs";
import { SerialPort } from "serialport";
import { Qemu } from "../../host/qemu.ts";
import { CRC_SIZE, Flag, FrameType, HEADER_SIZE, MAC_BYTES, PROTOCOL_VERSION, Prio } from "../../host/frame.ts";

export interface Frame {
  type: number;
  flags: number;
  codec: number;
  channel: number;
  session: number;
  packet: number;
  lsn: number;
  time: number;
  payload: Uint8Array;
}

export function encodeFrame(
  type: number,
  packet: number,
  payload: Uint8Array = new Uint8Array(),
  opts: { flags?: number; codec?: number; channel?: number } = {},
): Uint8Array {
  const raw = new Uint8Array(HEADER_SIZE + payload.length + CRC_SIZE);
  const dv = new DataView(raw.buffer);
  raw.set([PROTOCOL_VERSION, type, opts.flags ?? Prio.CONTROL, opts.codec ?? 0, opts.channel ?? 0, 0]);
  dv.setUint16(6, payload.length, true);
  dv.setUint32(12, packet >>> 0, true);
  raw.set(payload, HEADER_SIZE);
  dv.setUint32(HEADER_SIZE + payload.length, crc32c(raw.subarray(0, HEADER_SIZE + payload.length)), true);
  return cobsEncode(flipHeader(raw));
}

/** The header travels inverted (each of its 24 bytes XOR 0xFF): in place,
 *  its own inverse. */
function flipHeader(raw: Uint8Array): Uint8Array {
  for (let i = 0; i < Math.min(HEADER_SIZE, raw.length); i++) raw[i] ^= 0xff;
  return raw;
}

export function cobsEncode(src: Uint8Array): Uint8Array {
  const out: number[] = [0];
  let code = 1,
    codeAt = 0;
  for (const b of src) {
    if (b === 0) {
      out[codeAt] = code;
      codeAt = out.length;
      out.push(0);
      code = 1;
      continue;
    }
    out.push(b);
    if (++code === 0xff) {
      out[codeAt] = code;
      codeAt = out.length;
      out.push(0);
      code = 1;
    }
  }
  out[codeAt] = code;
  out.push(0);
  return Uint8Array.from(out);
}

export function cobsDecode(src: Uint8Array): Uint8Array | null {
  const out: number[] = [];
  for (let i = 0; i < src.length; ) {
    const code = src[i++];
    if (code === 0 || i + code - 1 > src.length) return null;
    for (let k = 1; k < code; k++) out.push(src[i++]);
    if (code < 0xff && i < src.length) out.push(0);
  }
  return Uint8Array.from(out);
}

/** Decode one delimited chunk (without its 0x00); null when it is not a
 *  valid frame (bad COBS, length or CRC). */
export function decodeFrame(chunk: Uint8Array): Frame | null {
  const cobs = cobsDecode(chunk);
  if (!cobs || cobs.length < HEADER_SIZE + CRC_SIZE) return null;
  const raw = flipHeader(cobs);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const len = dv.getUint16(6, true);
  // Flag MAC: a frame MAC sits between payload and CRC (auth mode 2, inside
  // a session). It is kept out of `payload` and not checked here: the host
  // core (session.ts) checks MACs.
  const body = HEADER_SIZE + len + (raw[2] & Flag.MAC ? MAC_BYTES : 0);
  if (raw.length !== body + CRC_SIZE || raw[0] !== PROTOCOL_VERSION) return null;
  if (dv.getUint32(body, true) !== crc32c(raw.subarray(0, body))) return null;
  return {
    type: raw[1],
    flags: raw[2],
    codec: raw[3],
    channel: raw[4],
    session: dv.getUint32(8, true),
    packet: dv.getUint32(12, true),
    lsn: dv.getUint32(16, true),
    time: dv.getUint32(20, true),
    payload: raw.slice(HEADER_SIZE, HEADER_SIZE + len),
  };
}

/** Protobuf fields: varints as bigint, length-delimited as bytes. */
export function readProto(b: Uint8Array): Map<number, bigint | Uint8Array> {
  const m = new Map<number, bigint | Uint8Array>();
  let i = 0;
  const varint = (): bigint => {
    let v = 0n,
      s = 0n;
    for (;;) {
      const c = b[i++];
      v |= BigInt(c & 0x7f) << s;
      s += 7n;
      if (!(c & 0x80)) return v;
    }
  };
  while (i < b.length) {
    const key = Number(varint()),
      tag = key >> 3,
      wt = key & 7;
    if (wt === 0) m.set(tag, varint());
    else if (wt === 2) {
      const n = Number(varint());
      m.set(tag, b.slice(i, i + n));
      i += n;
    } else if (wt === 5) {
      m.set(tag, BigInt(new DataView(b.buffer, b.byteOffset + i).getUint32(0, true)));
      i += 4;
    } else if (wt === 1) {
      m.set(tag, new DataView(b.buffer, b.byteOffset + i).getBigUint64(0, true));
      i += 8;
    } else throw new Error(`protobuf wire type ${wt} at ${i}`);
  }
  return m;
}

/** A serial port that splits the byte stream into frames. Invalid chunks
 *  (noise, fault text) are kept in `junk` so a test can show them. */
export class FramePort {
  readonly frames: Frame[] = [];
  readonly junk: Uint8Array[] = [];
  /** Every byte received, as latin1 text (fault and boot reports). */
  text = "";
  private acc: number[] = [];
  private waiters: Array<() => void> = [];
  private taps: Array<(d: Uint8Array) => void> = [];

  private constructor(readonly port: SerialPort) {
    port.on("data", (d: Buffer) => {
      this.text += d.toString("latin1");
      for (const tap of this.taps) tap(d);
      for (const b of d) {
        if (b !== 0) {
          this.acc.push(b);
          continue;
        }
        const chunk = Uint8Array.from(this.acc);
        this.acc = [];
        const f = decodeFrame(chunk);
        if (f) this.frames.push(f);
        else if (chunk.length) this.junk.push(chunk);
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static open(path: string, baudRate = 115200): Promise<FramePort> {
    return new Promise((resolve, reject) => {
      const port = new SerialPort({ path, baudRate, autoOpen: false });
      port.open((err) => (err ? reject(err) : resolve(new FramePort(port))));
    });
  }

  /** Also hand every received chunk, raw, to fn (a host core's decoder). */
  tap(fn: (d: Uint8Array) => void): void {
    this.taps.push(fn);
  }

  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.port.write(Buffer.from(bytes), (err) => (err ? reject(err) : this.port.drain(() => resolve())));
    });
  }

  /** Wait for the first frame that matches, removing it from `frames`. */
  async waitFor(match: (f: Frame) => boolean, timeoutMs: number): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex(match);
      if (i >= 0) return this.frames.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) {
        const junk = this.junk.map((j) => Buffer.from(j).toString("latin1")).join(" | ");
        throw new Error(
          `no matching frame within ${timeoutMs} ms (got ${this.frames.length} other frames; junk: ${junk || "none"})`,
        );
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Wait until the received text matches re. */
  async waitText(re: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.text)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${re} within ${timeoutMs} ms; got: ${JSON.stringify(this.text.slice(-200))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.text;
  }

  /** Send a request and wait for its answer (same packet id, given type). */
  async request(
    type: number,
    packet: number,
    reply: number,
    payload?: Uint8Array,
    timeoutMs = 2000,
    opts: { codec?: number; flags?: number; channel?: number } = {},
  ): Promise<Frame> {
    await this.write(encodeFrame(type, packet, payload, opts));
    return this.waitFor((f) => f.type === reply && f.packet === packet, timeoutMs);
  }

  /** The first exchange can take ~1 s (QEMU polls a fresh pty): ping until
   *  an answer comes, within timeoutMs. */
  async warmUp(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let id = 0xfff00000; Date.now() < deadline; id++) {
      try {
        await this.request(FrameType.PING, id, FrameType.PONG, undefined, 1000);
        this.frames.length = 0; // late answers to earlier tries
        return;
      } catch {
        /* retry */
      }
    }
    throw new Error(`no PONG within ${timeoutMs} ms of warm-up`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.port.isOpen ? this.port.close(() => resolve()) : resolve()));
  }
}

/** Boot `elf` in QEMU with its UART on a FramePort: start halted, open the
 *  pty, run, and wait until the firmware answers (the first byte into a pty
 *  can take a second). The caller stops both, port first. */
export async function bootWithPort(elf: string): Promise<{ q: Qemu; port: FramePort }> {
  const q = await Qemu.start({ elf });
  try {
    const port = await FramePort.open(q.pty);
    await q.cont();
    await port.warmUp(5000);
    return { q, port };
  } catch (e) {
    await q.stop();
    throw e;
  }
}
