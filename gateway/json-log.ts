// An append-only file of JSON lines holding the entries a gateway queue
// must not lose (the uplink spool, the downlink queue):
//   {"m":seq, ...the entry's fields}   an entry
//   {"a":seq}                          done: not carried over a restart
// append() only queues the line; syncAsync() writes what is queued and
// fdatasyncs once for every caller meanwhile (host/group-sync.ts); sync()
// does it on the spot. done() is written lazily: losing it only means the
// entry is handled once more after a restart.
// At start the file is replayed: every entry with no "a" is pending again,
// in order. A torn last line (a crash mid-write: that entry was never
// acknowledged) is ignored; any other unreadable line is logged, skipped,
// and the file kept as .corrupt. The file then starts clean (tmp + rename).
// Truncated when nothing is pending, rewritten when large.
import { openSync, writeSync, fsyncSync, closeSync, ftruncateSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { GroupSync } from "../host/group-sync.ts";
import { replayLines, rewriteFile, claimLineFile } from "./line-file.ts";

/** How an entry becomes a line and back. */
export interface JsonLogCodec<E> {
  /** The entry's fields, without its sequence number (the log adds "m"). */
  encode(e: E): Record<string, unknown>;
  /** The entry of a record read back (r.m is its sequence number), or null
   *  when the record is malformed. */
  decode(r: any): E | null;
}

/** A line of a JsonLog: an entry ({"m":seq,...}) or a done mark ({"a":seq}). */
export function isJsonLogRecord(r: unknown): boolean {
  if (!r || typeof r !== "object") return false;
  const o = r as Record<string, unknown>;
  return (Number.isInteger(o.m) && (o.m as number) > 0) || (Number.isInteger(o.a) && Object.keys(o).length === 1);
}

const COMPACT_BYTES = 4 * 1024 * 1024;
/** Size past which the file is truncated once nothing is pending. Not
 *  less: the truncation is fsync'd on the spot, and a busy queue empties
 *  every few hundred messages. */
export const TRUNCATE_BYTES = 1024 * 1024;

export class JsonLog<E extends { seq: number }> {
  private fd: number;
  private size = 0;
  /** Lines appended but not yet written: the flush writes them in one
   *  call right before its fdatasync (group-sync.ts says why). */
  private queued: string[] = [];
  private readonly group = new GroupSync(() => this.fd, {
    writeNow: () => {
      const t = this.queued.join("");
      this.queued = [];
      if (t) writeSync(this.fd, t);
    },
  });
  private nextSeq = 1;
  /** Entries not done yet, oldest first. */
  readonly pending = new Map<number, E>();
  get fsyncs(): number {
    return this.group.fsyncs;
  }
  /** Everything appended so far is on disk (fdatasync returned). */
  get synced(): boolean {
    return this.group.clean;
  }
  get bytes(): number {
    return this.size;
  }

  /** `name` labels the log lines ("spool"), `entry` names one entry in
   *  them ("message"). */
  constructor(
    readonly path: string,
    name: string,
    entry: string,
    private readonly codec: JsonLogCodec<E>,
    protected readonly log: Logger,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    // Another program's file at this path is refused, not rewritten.
    claimLineFile(path, `${name} file`, isJsonLogRecord);
    replayLines(path, log, { name, entry, take: (l) => this.readBack(l), kept: () => this.pending.size });
    // Start from a clean file: no torn tail for the next append to join.
    this.fd = this.rewrite();
  }

  /** Called for every entry appended, and for every pending entry done,
   *  after construction; a subclass derives its state of the replayed
   *  entries from `pending` once super() returned (its fields do not exist
   *  while the replay runs). */
  protected added(_e: E): void {}
  protected removed(_e: E): void {}

  /** One line read back at start; false when unreadable. */
  private readBack(l: string): boolean {
    let r: any;
    try {
      r = JSON.parse(l);
    } catch {
      return false;
    }
    const e = r && typeof r === "object" && Number.isInteger(r.m) && r.m > 0 ? this.codec.decode(r) : null;
    if (e) {
      this.pending.delete(e.seq); // a repeated number: the later record, last in order
      this.pending.set(e.seq, e);
      this.nextSeq = Math.max(this.nextSeq, e.seq + 1);
      return true;
    }
    if (r && typeof r === "object" && Number.isInteger(r.a) && Object.keys(r).length === 1) {
      this.pending.delete(r.a);
      return true;
    }
    return false;
  }

  private line(e: E): string {
    return JSON.stringify({ m: e.seq, ...this.codec.encode(e) }) + "\n";
  }

  private rewrite(): number {
    let text = "";
    for (const e of this.pending.values()) text += this.line(e);
    rewriteFile(this.path, text);
    this.size = Buffer.byteLength(text);
    return openSync(this.path, "a");
  }

  private write(line: string): void {
    this.queued.push(line);
    this.size += Buffer.byteLength(line); // bytes on disk: a topic may be any script
    this.group.wrote();
  }

  /** Record an entry (durable once syncAsync() resolves). */
  append(fields: Omit<E, "seq">): E {
    const e = { ...fields, seq: this.nextSeq++ } as E;
    this.write(this.line(e));
    this.pending.set(e.seq, e);
    this.added(e);
    return e;
  }

  /** Everything appended so far on disk, now. */
  sync(): void {
    this.group.syncNow();
  }

  /** The same without blocking the event loop: one fdatasync for everything
   *  appended so far, shared by every caller meanwhile. */
  syncAsync(): Promise<void> {
    return this.group.sync();
  }

  /** The entry is done: it is not carried over a restart. Returns false if
   *  it was not pending. */
  done(seq: number): boolean {
    const e = this.pending.get(seq);
    if (!e) return false;
    this.pending.delete(seq);
    this.removed(e);
    this.write(`{"a":${seq}}\n`);
    // Never while a flush is in flight: its write must not land in the
    // truncated or replaced file.
    if (this.group.busy) return true;
    if (this.pending.size === 0 && this.size > TRUNCATE_BYTES) {
      // Nothing pending: every line, written or queued, is obsolete.
      this.queued = [];
      ftruncateSync(this.fd, 0);
      fsyncSync(this.fd);
      this.size = 0;
      this.group.markDurable();
    } else if (this.size > COMPACT_BYTES && this.size > 8 * this.pending.size * 200) {
      // The rewrite holds every pending entry: queued lines are superseded.
      this.queued = [];
      closeSync(this.fd);
      this.fd = this.rewrite();
      this.group.markDurable();
    }
    return true;
  }

  /** Whatever is still queued goes to disk first. */
  close(): void {
    this.group.close(() => closeSync(this.fd));
  }
}
