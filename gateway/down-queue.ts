// The downlink queue, on disk: every QoS 1 and 2 command the gateway has
// taken from the broker, from before it is acknowledged (PUBACK; for QoS 2
// before the incoming store releases it and mqtt.js answers PUBCOMP) until
// the device's core has it in its journal. Why a file: once acknowledged the
// broker never sends the command again, and a device can stay offline for a
// long time; with the command only in the link's memory a gateway crash in
// that interval lost it. Same style as the uplink spool (spool.ts):
//   {"m":seq,"d":device,"c":channel,"q":qos,"r":prio,"t":topic,"p":base64,"tp":traceparent}  a command
//   {"a":seq}                                                                             the core has it
// append() only queues the line; syncAsync() writes what is queued and
// fdatasyncs once for every caller meanwhile (GroupSync); the bridge calls
// back mqtt.js (which then acknowledges) only after that. done() is written
// lazily: losing it only means the command goes to the device once more.
// At start the file is replayed: every command with no "a" is queued again
// for its device, in order. A torn last line (a crash mid-write: that
// command was never acknowledged, the broker sends it again) is ignored; any
// other unreadable line is logged, skipped, and the file kept as .corrupt.
// Truncated when nothing is pending, rewritten (tmp + rename) when large.
import { openSync, writeSync, fsyncSync, closeSync, readFileSync, renameSync, ftruncateSync, copyFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { GroupSync } from "../host/group-sync.ts";

export interface DownEntry {
  seq: number;
  device: string;
  /** The device channel, QoS and priority of the route it came in on. */
  channel: number;
  qos: 0 | 1 | 2;
  prio: number;
  topic: string;
  payload: Buffer;
  /** The command's MQTT traceparent (valid), so a replayed command still joins its trace. */
  traceparent?: string;
}

const COMPACT_BYTES = 4 * 1024 * 1024;

const isEntry = (r: any): boolean => Number.isInteger(r.m) && r.m > 0 && typeof r.d === "string" && Number.isInteger(r.c) &&
  (r.q === 0 || r.q === 1 || r.q === 2) && Number.isInteger(r.r) && typeof r.t === "string" && typeof r.p === "string" &&
  (r.tp === undefined || typeof r.tp === "string");

export class DownQueue {
  private fd: number;
  private size = 0;
  private queued: string[] = [];
  private readonly group = new GroupSync(() => this.fd, {
    writeNow: () => { const t = this.queued.join(""); this.queued = []; if (t) writeSync(this.fd, t); },
  });
  private nextSeq = 1;
  /** Commands not yet in a device core's journal, oldest first. */
  readonly pending = new Map<number, DownEntry>();
  /** Pending commands a core has taken in this run, waiting for its journal
   *  to be durable before done(): not handed out again (pendingFor). */
  private readonly taken = new Set<number>();
  private readonly perDevice = new Map<string, number>();
  get fsyncs(): number { return this.group.fsyncs; }
  /** Everything appended so far is on disk (fdatasync returned). */
  get synced(): boolean { return this.group.clean; }

  constructor(readonly path: string, private log: Logger) {
    mkdirSync(dirname(path), { recursive: true });
    let text = "";
    try { text = readFileSync(path, "utf8"); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") log.error({ file: path, err: (e as Error).message }, "downlink queue: cannot read; starting empty");
    }
    this.replay(text);
    // Start from a clean file: no torn tail for the next append to join.
    this.fd = this.rewrite();
    if (this.pending.size) log.info({ file: path, commands: this.pending.size }, "downlink queue: commands acknowledged before the restart are queued again for their devices");
  }

  private replay(text: string): void {
    const lines = text.split("\n");
    let bad = 0;
    lines.forEach((l, n) => {
      if (!l) return;
      let r: any;
      try { r = JSON.parse(l); } catch { r = undefined; }
      if (r && typeof r === "object" && isEntry(r)) {
        this.add({ seq: r.m, device: r.d, channel: r.c, qos: r.q, prio: r.r, topic: r.t, payload: Buffer.from(r.p, "base64"), traceparent: r.tp });
        this.nextSeq = Math.max(this.nextSeq, r.m + 1);
      } else if (r && typeof r === "object" && Number.isInteger(r.a) && Object.keys(r).length === 1) this.forget(r.a);
      else if (n === lines.length - 1) this.log.warn({ file: this.path }, "downlink queue: torn last line ignored (a crash mid-write; that command was never acknowledged)");
      else { bad++; this.log.error({ file: this.path, line: n + 1, text: l.slice(0, 80) }, "downlink queue: unreadable record skipped"); }
    });
    if (bad) {
      try { copyFileSync(this.path, this.path + ".corrupt"); } catch { /* best effort */ }
      this.log.error({ file: this.path, skipped: bad, kept: this.pending.size, copy: this.path + ".corrupt" }, "downlink queue: corrupt file; continuing with the records that could be read");
    }
  }

  private add(e: DownEntry): void {
    this.forget(e.seq);
    this.pending.set(e.seq, e);
    this.perDevice.set(e.device, (this.perDevice.get(e.device) ?? 0) + 1);
  }
  private forget(seq: number): boolean {
    const e = this.pending.get(seq);
    if (!e) return false;
    this.pending.delete(seq);
    this.taken.delete(seq);
    const n = (this.perDevice.get(e.device) ?? 1) - 1;
    if (n > 0) this.perDevice.set(e.device, n); else this.perDevice.delete(e.device);
    return true;
  }

  private line(e: DownEntry): string {
    return JSON.stringify({ m: e.seq, d: e.device, c: e.channel, q: e.qos, r: e.prio, t: e.topic, p: e.payload.toString("base64"), tp: e.traceparent }) + "\n";
  }

  private rewrite(): number {
    const tmp = this.path + ".tmp";
    let text = "";
    for (const e of this.pending.values()) text += this.line(e);
    const fd = openSync(tmp, "w");
    try { writeSync(fd, text); fsyncSync(fd); } finally { closeSync(fd); }
    renameSync(tmp, this.path);
    const dir = openSync(dirname(this.path), "r"); // the rename itself durable
    try { fsyncSync(dir); } finally { closeSync(dir); }
    this.size = Buffer.byteLength(text);
    return openSync(this.path, "a");
  }

  private write(line: string): void {
    this.queued.push(line);
    this.size += line.length;
    this.group.wrote();
  }

  /** Record a command (durable once syncAsync() resolves). */
  append(e: Omit<DownEntry, "seq">): DownEntry {
    const entry = { ...e, seq: this.nextSeq++ };
    this.write(this.line(entry));
    this.add(entry);
    return entry;
  }

  /** Everything appended so far on disk: one fdatasync shared by every caller meanwhile. */
  syncAsync(): Promise<void> { return this.group.sync(); }

  /** Commands waiting (not yet in the device core's journal) for `device`. */
  count(device: string): number { return this.perDevice.get(device) ?? 0; }

  /** The pending commands of `device` no core has taken in this run, in order. */
  pendingFor(device: string): DownEntry[] {
    return [...this.pending.values()].filter((e) => e.device === device && !this.taken.has(e.seq));
  }

  /** A core accepted the command; done() follows once its journal is durable. */
  take(seq: number): void { if (this.pending.has(seq)) this.taken.add(seq); }

  /** The command is in the device core's journal on disk (or was dropped for
   *  good): it is not queued again after a restart. */
  done(seq: number): void {
    if (!this.forget(seq)) return;
    this.write(`{"a":${seq}}\n`);
    // Never while a flush is in flight: its write must not land in the
    // truncated or replaced file.
    if (this.group.busy) return;
    if (this.pending.size === 0 && this.size > 64 * 1024) {
      this.queued = [];
      ftruncateSync(this.fd, 0);
      fsyncSync(this.fd);
      this.size = 0;
      this.group.markDurable();
    } else if (this.size > COMPACT_BYTES && this.size > 8 * this.pending.size * 200) {
      // The rewrite holds every pending command: queued lines are superseded.
      this.queued = [];
      closeSync(this.fd);
      this.fd = this.rewrite();
      this.group.markDurable();
    }
  }

  get bytes(): number { return this.size; }

  close(): void {
    const finish = () => { try { this.group.syncNow(); } catch { /* closing anyway */ } closeSync(this.fd); };
    if (this.group.busy) void this.group.idle().then(finish);
    else finish();
  }
}
