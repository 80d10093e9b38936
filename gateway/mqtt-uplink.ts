// The uplink PUBLISHes, written by the gateway itself on mqtt.js's
// connection. mqtt.js keeps the connection (CONNECT, keep-alive, reconnect,
// SUBSCRIBE, the downlink and its acknowledgements); its publish path
// deep-copied each message into its store, built the packet from an object
// and went through a callback chain per acknowledgement, several times the
// cost of the bytes themselves per message. Here a message is encoded once,
// into the bytes of the turn's write, and its acknowledgement is matched by
// packet id in a table of the messages in flight.
//
// The packet ids are split: this table uses 1..UPLINK_IDS, mqtt.js's own
// packets (SUBSCRIBE, UNSUBSCRIBE) get the rest (`mqttIdProvider`), so an
// acknowledgement is ours or mqtt.js's by its id alone. mqtt.js ignores an
// acknowledgement of an id it did not send.
//
// On a reconnect that resumes the broker session, every message in flight
// is sent again in its order: a PUBLISH with DUP set, or the PUBREL of a
// QoS 2 message the broker has PUBREC'd (MQTT 5 section 4.4). When the
// broker kept no session, the caller takes them all back (`takeAll`) and
// publishes them again as new messages.
import type { Writable } from "node:stream";

/** The `done` reason of a QoS 0 message whose connection closed before
 *  its bytes were written (not a reason code: it was never sent). */
export const NOT_SENT = -1;

/** Packet ids 1..UPLINK_IDS are the uplink's; the rest are mqtt.js's. */
export const UPLINK_IDS = 0xc000;

/** A message for the broker. */
export interface Outgoing {
  topic: string;
  qos: 0 | 1 | 2;
  payload: Uint8Array;
  /** MQTT 5 user properties (ignored with MQTT 3.1.1). */
  props?: readonly (readonly [string, string])[];
}

interface Flight<T> {
  item: T;
  msg: Outgoing;
  id: number;
  /** QoS 2: PUBREC received, PUBREL sent. */
  released: boolean;
}

/** An acknowledgement packet as mqtt-packet parses it. */
interface Ack {
  cmd: string;
  messageId?: number;
  reasonCode?: number;
}

const PUBLISH = 0x30,
  PUBREL = 0x62;
/** Bytes of the buffer the turn's packets are encoded into. */
const CHUNK = 64 * 1024;
/** Topics and property names whose bytes are kept at most. */
const STRING_CACHE = 4096;

/** The ids mqtt.js gives its own packets: UPLINK_IDS+1..65535, in turn. */
export function mqttIdProvider() {
  let next = UPLINK_IDS + 1;
  return {
    allocate(): number {
      const id = next;
      next = next === 0xffff ? UPLINK_IDS + 1 : next + 1;
      return id;
    },
    getLastAllocated(): number {
      return next === UPLINK_IDS + 1 ? 0xffff : next - 1;
    },
    register: (id: number): boolean => id > UPLINK_IDS,
    deallocate(): void {},
    clear(): void {},
  };
}

export class MqttUplink<T> {
  private flights = new Map<number, Flight<T>>();
  private nextId = 1;
  private chunk = Buffer.allocUnsafe(CHUNK);
  private start = 0;
  private pos = 0;
  /** Written since the last take(): messages whose bytes left, QoS 0 ones
   *  are done with that. */
  private written0: T[] = [];

  /** `done(item, reason)`: the broker acknowledged the message (reason
   *  undefined) or refused it (its MQTT reason code, 0x80 and above, or NOT_SENT). */
  constructor(
    private readonly version: 4 | 5,
    private readonly done: (item: T, reason?: number) => void,
  ) {}

  get inflight(): number {
    return this.flights.size + this.written0.length;
  }

  /** Encode a PUBLISH of `msg` into this turn's bytes (write() sends them). */
  publish(item: T, msg: Outgoing): void {
    if (msg.qos === 0) {
      this.encodePublish(msg, 0, false);
      this.written0.push(item);
      return;
    }
    let id = this.nextId;
    while (this.flights.has(id)) id = id === UPLINK_IDS ? 1 : id + 1;
    this.nextId = id === UPLINK_IDS ? 1 : id + 1;
    this.flights.set(id, { item, msg, id, released: false });
    this.encodePublish(msg, id, false);
  }

  /** An acknowledgement from the broker: true if it answers one of ours. */
  handle(p: Ack): boolean {
    // Packet ids are per direction: the broker's own PUBLISH and PUBREL
    // (the downlink) may carry any id, and are mqtt.js's.
    if (p.cmd !== "puback" && p.cmd !== "pubrec" && p.cmd !== "pubcomp") return false;
    const id = p.messageId;
    if (id === undefined || id > UPLINK_IDS) return false;
    const f = this.flights.get(id);
    if (!f) return true;
    const rc = p.reasonCode ?? 0;
    // 0x10 "no matching subscribers" is a success; a PUBCOMP's 0x92 "packet
    // identifier not found" means the broker completed the exchange before
    // (it had PUBREC'd the message, so it has it).
    const refused = rc >= 0x80 && !(p.cmd === "pubcomp" && rc === 0x92);
    if (p.cmd === "pubrec" && f.msg.qos === 2 && !refused) {
      f.released = true;
      this.encodePubrel(id);
      return true;
    }
    if (p.cmd === (f.msg.qos === 1 ? "puback" : "pubcomp") || refused) {
      this.flights.delete(id);
      this.done(f.item, refused ? rc : undefined);
    }
    return true;
  }

  /** The broker resumed our session: everything in flight again, in order. */
  resend(): void {
    for (const f of this.flights.values())
      if (f.released) this.encodePubrel(f.id);
      else this.encodePublish(f.msg, f.id, true);
  }

  /** The broker kept no session: every message in flight, taken out in
   *  the order it was published, for the caller to publish again. */
  takeAll(): T[] {
    const all = [...this.flights.values()].map((f) => f.item);
    this.flights.clear();
    this.dropUnwritten();
    return all;
  }

  /** The connection is gone: bytes not yet written never will be (what is
   *  in flight is sent again by resend() or taken back by takeAll()). */
  dropUnwritten(): void {
    this.start = this.pos;
    const lost = this.written0;
    this.written0 = [];
    for (const item of lost) this.done(item, NOT_SENT);
  }

  /** Hand this turn's bytes to `stream` in one write. */
  write(stream: Writable): void {
    if (this.pos > this.start) stream.write(this.chunk.subarray(this.start, this.pos));
    this.start = this.pos;
    const sent = this.written0;
    if (!sent.length) return;
    this.written0 = [];
    for (const item of sent) this.done(item);
  }

  private room(n: number): Buffer {
    if (this.pos + n > this.chunk.length) {
      // The unwritten bytes move to a new buffer; written ones stay with
      // the socket's queue, which holds the old buffer until they leave.
      const next = Buffer.allocUnsafe(Math.max(CHUNK, 2 * n + (this.pos - this.start)));
      this.chunk.copy(next, 0, this.start, this.pos);
      this.pos -= this.start;
      this.start = 0;
      this.chunk = next;
    }
    return this.chunk;
  }

  /** UTF-8 bytes of the topics and property names seen (a device's few
   *  topics recur with every message); emptied when it grows past
   *  STRING_CACHE entries. */
  private strings = new Map<string, Buffer>();

  private bytesOf(s: string): Buffer {
    let b = this.strings.get(s);
    if (!b) {
      if (this.strings.size >= STRING_CACHE) this.strings.clear();
      this.strings.set(s, (b = Buffer.from(s)));
    }
    return b;
  }

  private encodePublish(m: Outgoing, id: number, dup: boolean): void {
    const topic = this.bytesOf(m.topic);
    const topicLen = topic.length;
    let propLen = 0;
    if (this.version === 5 && m.props)
      for (const [k, v] of m.props) propLen += 5 + this.bytesOf(k).length + Buffer.byteLength(v);
    const rest =
      2 + topicLen + (m.qos ? 2 : 0) + (this.version === 5 ? varLen(propLen) + propLen : 0) + m.payload.length;
    const b = this.room(1 + varLen(rest) + rest);
    let o = this.pos;
    b[o++] = PUBLISH | (dup ? 8 : 0) | (m.qos << 1);
    o = putVar(b, o, rest);
    o = b.writeUInt16BE(topicLen, o);
    o += topic.copy(b, o);
    if (m.qos) o = b.writeUInt16BE(id, o);
    if (this.version === 5) {
      o = putVar(b, o, propLen);
      if (m.props)
        for (const [k, v] of m.props) {
          b[o++] = 0x26; // user property
          const kb = this.bytesOf(k);
          o = b.writeUInt16BE(kb.length, o);
          o += kb.copy(b, o);
          o = b.writeUInt16BE(Buffer.byteLength(v), o);
          o += b.write(v, o);
        }
    }
    b.set(m.payload, o);
    this.pos = o + m.payload.length;
  }

  private encodePubrel(id: number): void {
    const b = this.room(4);
    b[this.pos] = PUBREL;
    b[this.pos + 1] = 2;
    b.writeUInt16BE(id, this.pos + 2);
    this.pos += 4;
  }
}

/** Bytes of an MQTT variable byte integer. */
function varLen(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4;
}

function putVar(b: Buffer, o: number, n: number): number {
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    b[o++] = byte;
  } while (n);
  return o;
}
