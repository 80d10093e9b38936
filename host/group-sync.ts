// Group commit for one file: writes are noted (and, with a write-behind,
// only queued); sync() resolves once everything written before the call is
// on disk. One flush covers every write made before it started: the queued
// writes in one call, then fdatasync on libuv's thread pool, so the event
// loop never waits for the device (a write into a page under writeback
// does; writing only between flushes avoids that).
// Callers that arrive while a flush runs share the next one.
// fdatasync, not fsync: it flushes the data and what is needed to read it
// back (the size of an appended file), not the modification time, which
// spares ext4 a journal commit per call (about 2x the flushes per second
// with nine files flushing at once on this machine).
import { fdatasync, fdatasyncSync } from "node:fs";

/** Writes a file owner keeps queued until a flush (write-behind). */
export interface WriteBehind {
  /** Write everything queued so far, on this thread. */
  writeNow(): void;
}

export class GroupSync {
  private written = 0; // writes so far (a generation count)
  private durable = 0; // writes known to be on disk
  private running: Promise<void> | null = null;
  /** fdatasync calls made. */
  fsyncs = 0;

  constructor(
    private readonly fd: () => number,
    private readonly behind?: WriteBehind,
  ) {}

  /** Note a write (made, or queued with the write-behind). */
  wrote(): void {
    this.written++;
  }

  get clean(): boolean {
    return this.durable === this.written;
  }
  /** A flush is in flight (the descriptor must stay open until it ends). */
  get busy(): boolean {
    return this.running !== null;
  }

  /** Resolves (never rejects) when no flush is in flight. */
  private async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => {});
  }

  /** Everything written so far was made durable by other means (the file
   *  was rewritten and fsync'd, or truncated with nothing left to keep). */
  markDurable(): void {
    this.durable = this.written;
  }

  /** Write what is queued, flush, then `closeFd()`: after a flush in
   *  flight, if any, so nothing lands behind its write (the descriptor must
   *  stay open until it ends). */
  close(closeFd: () => void): void {
    const finish = () => {
      try {
        this.syncNow();
      } catch {
        /* closing anyway */
      }
      closeFd();
    };
    if (this.busy) void this.idle().then(finish);
    else finish();
  }

  /** Write what is queued and flush now, on this thread. */
  syncNow(): void {
    if (this.clean) return;
    const upTo = this.written;
    this.behind?.writeNow();
    fdatasyncSync(this.fd());
    this.fsyncs++;
    this.durable = Math.max(this.durable, upTo);
  }

  /** Resolves when every write made before this call is durable. The
   *  target is taken now; the flush starts a microtask later, so writes
   *  made in the rest of this synchronous run (the other frames of the same
   *  read) share it. */
  sync(): Promise<void> {
    const target = this.written;
    return Promise.resolve().then(() => this.until(target));
  }

  private async until(target: number): Promise<void> {
    while (this.durable < target) {
      if (!this.running) this.running = this.flush();
      await this.running;
    }
  }

  private async flush(): Promise<void> {
    const upTo = this.written;
    this.fsyncs++;
    try {
      // The queued writes go on this thread, in one call: no flush of this
      // file is running (they are exclusive), so no page is under writeback
      // and the write cannot block; an async write costs more CPU here (a
      // thread-pool round trip per call) than the write itself.
      this.behind?.writeNow();
      await new Promise<void>((resolve, reject) => fdatasync(this.fd(), (err) => (err ? reject(err) : resolve())));
      this.durable = Math.max(this.durable, upTo);
    } finally {
      this.running = null;
    }
  }
}
