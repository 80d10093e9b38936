// The bridge's mqtt.js incomingStore, on disk: QoS 2 commands the gateway
// has received from the broker and answered with PUBREC, until the broker's
// PUBREL releases them. Why a file: mqtt.js sends PUBREC once put() calls
// back, and from then on the broker resends only PUBREL, never the message.
// With mqtt.js's in-memory store a gateway crash in between lost the command
// (after the restart mqtt.js had no packet for the PUBREL, answered PUBCOMP,
// and the device never got it). Here put() calls back only after the record
// is fsync'd, so the PUBREL after a restart finds the packet: mqtt.js emits
// it (the bridge routes it to the device), then del(), then PUBCOMP.
//
// File: JSON lines, append-only; Buffers (payload, correlation data) as
// {"$b": base64}:
//   {"i":id,"p":packet}   received, PUBREC may have gone out
//   {"d":id}              released (PUBCOMP about to go out)
// del() is fsync'd as well, before mqtt.js sends PUBCOMP: a released command
// is never in the file after a restart, so it cannot be delivered twice.
// Downlink QoS 2 is rare next to uplink, so plain fsyncSync. When nothing is
// left the file is truncated; when it grows large it is rewritten. At start
// it is replayed and rewritten: a torn last line (crash mid-write: that
// PUBREC never went out, the broker resends the PUBLISH) is dropped; any
// other unreadable line is logged, skipped, and the file kept as .corrupt.
import { openSync, writeSync, fsyncSync, closeSync, ftruncateSync } from "node:fs";
import { Readable } from "node:stream";
import type { IStore, IPublishPacket, Packet } from "mqtt";
import type { Logger } from "pino";
import { replayLines, rewriteFile, claimLineFile } from "./line-file.ts";

type Cb = Parameters<IStore["put"]>[1];
type PacketCb = Parameters<IStore["get"]>[1];

const REWRITE_BYTES = 1 << 20;

function toJson(this: Record<string, unknown>, k: string, v: unknown): unknown {
  const o = this[k]; // before Buffer.toJSON ran
  return Buffer.isBuffer(o) ? { $b: o.toString("base64") } : v;
}
const fromJson = (_k: string, v: any): unknown =>
  v && typeof v === "object" && typeof v.$b === "string" ? Buffer.from(v.$b, "base64") : v;
const isPacket = (p: any): p is IPublishPacket =>
  !!p &&
  p.cmd === "publish" &&
  p.qos === 2 &&
  typeof p.topic === "string" &&
  Buffer.isBuffer(p.payload) &&
  Number.isInteger(p.messageId) &&
  p.messageId > 0 &&
  p.messageId < 0x10000;

export class IncomingStore implements IStore {
  /** messageId -> the packet and its line in the file (for compaction). */
  private readonly held = new Map<number, { p: IPublishPacket; line: string }>();
  private fd?: number;
  private size = 0;
  private live = 0;

  /** `onWriteError`: put() could not make a packet durable and did not
   *  call back (no PUBREC); the owner drops the connection so that the
   *  broker sends the PUBLISH again instead of mqtt.js waiting for ever. */
  constructor(
    readonly path: string,
    private log: Logger,
    private onWriteError: (e: Error) => void = () => {},
  ) {
    // Another program's file at this path is refused, not rewritten.
    claimLineFile(
      path,
      "incoming store file",
      (r) =>
        !!r &&
        typeof r === "object" &&
        (Number.isInteger((r as { d?: unknown }).d) || Number.isInteger((r as { i?: unknown }).i)),
    );
    const text = replayLines(path, log, {
      name: "incoming store",
      entry: "command",
      take: (l) => this.readBack(l),
      kept: () => this.held.size,
    });
    if (this.held.size)
      log.info(
        { file: path, commands: this.held.size },
        "incoming store: QoS 2 commands received before the restart wait for the broker's PUBREL",
      );
    // Start from a clean file: no torn tail for the next append to join.
    if (text)
      try {
        this.rewrite();
      } catch (e) {
        log.error({ file: path, err: (e as Error).message }, "incoming store: cannot rewrite");
      }
  }

  /** One line read back at start; false when unreadable. */
  private readBack(l: string): boolean {
    let r: any;
    try {
      r = JSON.parse(l, fromJson);
    } catch {
      return false;
    }
    if (r && Number.isInteger(r.d) && Object.keys(r).length === 1) this.forget(r.d);
    else if (r && isPacket(r.p) && r.i === r.p.messageId) this.keep(r.p, l + "\n");
    else return false;
    return true;
  }

  private keep(p: IPublishPacket, line: string): void {
    this.forget(p.messageId!);
    this.held.set(p.messageId!, { p, line });
    this.live += line.length;
  }
  private forget(id: number): IPublishPacket | undefined {
    const e = this.held.get(id);
    if (e) {
      this.held.delete(id);
      this.live -= e.line.length;
    }
    return e?.p;
  }

  private append(line: string): void {
    this.fd ??= openSync(this.path, "a");
    writeSync(this.fd, line);
    fsyncSync(this.fd);
    this.size += line.length;
  }

  private rewrite(): void {
    let text = "";
    for (const e of this.held.values()) text += e.line;
    this.closeFd();
    rewriteFile(this.path, text);
    this.size = text.length;
  }
  private closeFd(): void {
    if (this.fd !== undefined)
      try {
        closeSync(this.fd);
      } catch {
        /* already gone */
      }
    this.fd = undefined;
  }

  put(packet: Packet, cb: Cb): this {
    const p = packet as IPublishPacket;
    const line = JSON.stringify({ i: p.messageId, p }, toJson) + "\n";
    try {
      this.append(line);
    } catch (e) {
      this.log.error(
        { file: this.path, err: (e as Error).message, message_id: p.messageId },
        "incoming store: cannot save a QoS 2 command; not acknowledging it (the broker will send it again)",
      );
      this.onWriteError(e as Error);
      return this;
    }
    this.keep(p, line);
    cb?.();
    return this;
  }

  get(packet: Pick<Packet, "messageId">, cb: PacketCb): this {
    const e = this.held.get(packet.messageId!);
    if (e) cb(undefined, e.p);
    else cb(new Error("missing packet"));
    return this;
  }

  del(packet: Pick<Packet, "messageId">, cb: PacketCb): this {
    const p = this.forget(packet.messageId!);
    if (!p) {
      cb?.(new Error("missing packet"));
      return this;
    }
    try {
      this.fd ??= openSync(this.path, "a");
      if (this.held.size === 0) {
        ftruncateSync(this.fd, 0);
        fsyncSync(this.fd);
        this.size = 0;
      } else {
        this.append(`{"d":${p.messageId}}\n`);
        if (this.size > REWRITE_BYTES && this.size > 2 * this.live) this.rewrite();
      }
    } catch (e) {
      this.log.error(
        { file: this.path, err: (e as Error).message, message_id: p.messageId },
        "incoming store: cannot record a released command (if the broker loses our session it may be delivered again after a restart)",
      );
    }
    cb?.(undefined, p);
    return this;
  }

  /** What is held now (the bridge delivers these when the broker lost the session). */
  packets(): IPublishPacket[] {
    return [...this.held.values()].map((e) => e.p);
  }

  /** del(), but only if `p` itself is still held (not a newer packet under its id). */
  release(p: IPublishPacket): void {
    if (this.held.get(p.messageId!)?.p === p) this.del(p, () => {});
  }

  createStream(): ReturnType<IStore["createStream"]> {
    return Readable.from(this.packets(), { objectMode: true }) as unknown as ReturnType<IStore["createStream"]>;
  }

  /** The file stays as it is: what is held is still there at the next start. */
  close(cb: Cb): void {
    this.closeFd();
    cb?.();
  }
}
