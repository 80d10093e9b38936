// The uplink spool: every QoS >= 1 message from a device, on its way to the
// broker, in an append-only file. Records are JSON lines:
//   {"m":seq,"d":device,"t":topic,"q":qos,"p":base64,"tp":traceparent}  a message
//   {"a":seq}                                                          the broker has it
// append() only queues the line; syncAsync() writes what is queued (one
// call) and makes it durable with one fdatasync on the thread pool, shared by every
// caller meanwhile (sync() does it on the spot). The device
// link waits for it before any byte goes back to the device, so
// an acknowledgement (PUBACK / PUBREC) never leaves the gateway before the
// message it acknowledges is on disk. At start the file is replayed: what
// has no "a" record is sent again (at least once to the broker). A torn last
// line (a crash mid-write) is ignored: its message was never acknowledged.
// When nothing is pending and the file has grown, it is truncated; when it
// grows large with messages still pending it is rewritten (tmp + rename).
import { openSync, writeSync, fsyncSync, closeSync, readFileSync, existsSync, renameSync, ftruncateSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { GroupSync } from "../host/group-sync.ts";

export interface SpoolEntry {
  seq: number;
  device: string;
  topic: string;
  qos: 0 | 1 | 2;
  payload: Buffer;
  traceparent?: string;
}

const COMPACT_BYTES = 4 * 1024 * 1024;

export class Spool {
  private fd: number;
  private size = 0;
  /** Lines appended but not yet written: the flush writes them in one
   *  call right before its fdatasync (group-sync.ts says why). */
  private queued: string[] = [];
  private readonly group = new GroupSync(() => this.fd, {
    writeNow: () => { const t = this.takeQueued(); if (t) writeSync(this.fd, t); },
  });
  private takeQueued(): string {
    const t = this.queued.join("");
    this.queued = [];
    return t;
  }
  private nextSeq = 1;
  /** Messages not yet acknowledged by the broker, oldest first. */
  readonly pending = new Map<number, SpoolEntry>();
  get fsyncs(): number { return this.group.fsyncs; }

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    if (existsSync(path)) this.replay(readFileSync(path, "utf8"));
    // Rewrite what survived, so the file starts clean (no torn tail).
    this.fd = this.rewrite();
  }

  private replay(text: string): void {
    for (const line of text.split("\n")) {
      if (!line) continue;
      let r: any;
      try { r = JSON.parse(line); } catch { continue; } // torn tail
      if (typeof r.m === "number") {
        this.pending.set(r.m, { seq: r.m, device: r.d, topic: r.t, qos: r.q, payload: Buffer.from(r.p, "base64"), traceparent: r.tp });
        this.nextSeq = Math.max(this.nextSeq, r.m + 1);
      } else if (typeof r.a === "number") this.pending.delete(r.a);
    }
  }

  private line(e: SpoolEntry): string {
    return JSON.stringify({ m: e.seq, d: e.device, t: e.topic, q: e.qos, p: e.payload.toString("base64"), tp: e.traceparent }) + "\n";
  }

  private rewrite(): number {
    const tmp = this.path + ".tmp";
    const fd = openSync(tmp, "w");
    let text = "";
    for (const e of this.pending.values()) text += this.line(e);
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.path);
    const out = openSync(this.path, "a");
    fsyncSync(out);
    this.size = Buffer.byteLength(text);
    return out;
  }

  /** Record a message (not yet durable: call sync() or syncAsync()). */
  append(e: Omit<SpoolEntry, "seq">): SpoolEntry {
    const entry = { ...e, seq: this.nextSeq++ };
    const line = this.line(entry);
    this.queued.push(line);
    this.size += line.length;
    this.group.wrote();
    this.pending.set(entry.seq, entry);
    return entry;
  }

  /** Make every appended message durable, now. */
  sync(): void { this.group.syncNow(); }

  /** The same without blocking the event loop: one fsync for everything
   *  appended so far, shared with every caller waiting meanwhile (group
   *  commit across devices). */
  syncAsync(): Promise<void> { return this.group.sync(); }

  /** The broker has the message: it will not be sent again after a restart
   *  (written lazily: losing this record only means a duplicate). */
  done(seq: number): void {
    if (!this.pending.delete(seq)) return;
    const line = `{"a":${seq}}\n`;
    this.queued.push(line);
    this.size += line.length;
    this.group.wrote();
    // Never while a flush is in flight: its write must not land in the
    // truncated or replaced file.
    if (this.group.busy) return;
    if (this.pending.size === 0 && this.size > 64 * 1024) {
      // Nothing pending: every line, written or queued, is obsolete.
      this.queued = [];
      ftruncateSync(this.fd, 0);
      fsyncSync(this.fd);
      this.size = 0;
      this.group.markDurable();
    } else if (this.size > COMPACT_BYTES && this.size > 8 * this.pending.size * 200) {
      // The rewrite holds every pending message: queued lines are superseded.
      this.queued = [];
      closeSync(this.fd);
      this.fd = this.rewrite();
      this.group.markDurable();
    }
  }

  get bytes(): number { return this.size; }

  close(): void {
    // After a flush in flight, so nothing lands behind the last write.
    const finish = () => { try { this.group.syncNow(); } catch { /* closing anyway */ } closeSync(this.fd); };
    if (this.group.busy) void this.group.idle().then(finish);
    else finish();
  }
}
