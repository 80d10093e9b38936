// One process per durable file. The gateway's spool and each device's
// journal are written by one process that keeps their state in RAM (the
// journal's mirror, the spool's pending entries): a second gateway started
// on the same files would overwrite the first one's records and replay
// messages it already delivered. A lock file beside the file ("<path>.lock")
// names its owner: pid and the process's start time (so a pid the system
// reused for another program does not count as the owner). A lock whose
// owner is gone is taken over; one whose owner is this process too (a
// gateway restarted in-process after a crash, as the tests do) as well.
import { openSync, writeSync, closeSync, readFileSync, unlinkSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { randomBytes } from "node:crypto";
import { readBoundedSync, FileError } from "./bounded-read.ts";

export class OwnerLockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OwnerLockError";
  }
}

/** `id` tells two holders in one process apart: an instance abandoned
 *  without stop() must not remove the lock of the one that took over. */
interface Owner {
  pid: number;
  start: string;
  id: string;
}

/** Start time of process `pid` in clock ticks since boot (/proc, field 22);
 *  "" where there is no /proc, or no such process. */
function startTime(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

function alive(o: Owner): boolean {
  try {
    process.kill(o.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  const now = startTime(o.pid);
  return now === "" || o.start === "" || now === o.start;
}

/** A lock file's text is at most this long. */
const LOCK_BYTES = 4096;

/** The owner a lock names; null when it names none: gone, or half written
 *  by a process that died (empty, or the start of an owner record). A file
 *  at the lock's path that is none of these is someone else's: "foreign",
 *  never removed. */
function readOwner(lock: string): Owner | null | "foreign" {
  let text: string;
  try {
    text = readBoundedSync(lock, { max: LOCK_BYTES, what: "lock file", noFollow: true }).data.toString("utf8");
  } catch (e) {
    return e instanceof FileError && e.code === "ENOENT" ? null : "foreign";
  }
  if (text !== "" && !text.startsWith('{"pid":')) return "foreign";
  try {
    const o = JSON.parse(text);
    return Number.isInteger(o.pid) && typeof o.start === "string" && typeof o.id === "string" ? o : null;
  } catch {
    return null;
  }
}

export class OwnerLock {
  private constructor(
    readonly lock: string,
    private readonly me: Owner,
  ) {}

  /** Take the lock of `path`; `what` names it in the error ("spool"). */
  static take(path: string, what: string): OwnerLock {
    const lock = `${path}.lock`;
    const me: Owner = { pid: process.pid, start: startTime(process.pid), id: randomBytes(8).toString("hex") };
    mkdirSync(dirname(lock), { recursive: true }); // the file itself may not exist yet
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(lock, "wx");
        try {
          writeSync(fd, JSON.stringify(me) + "\n");
        } finally {
          closeSync(fd);
        }
        return new OwnerLock(lock, me);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST")
          throw new OwnerLockError(`${what} ${path}: cannot create its lock ${lock}: ${(e as Error).message}`);
      }
      const o = readOwner(lock);
      if (o === "foreign")
        throw new OwnerLockError(
          `${what} ${path}: ${lock} exists and is not a QN lock file: refusing to remove it (move it away, or give the ${what} another path)`,
        );
      if (o && o.pid !== process.pid && alive(o)) {
        throw new OwnerLockError(
          `${what} ${path} is in use by another process (pid ${o.pid}, lock ${lock}): one gateway per spool and journal; stop it, or give this one its own files`,
        );
      }
      // Gone, ours, or unreadable: take it over (a racing taker gets EEXIST
      // on the next round and finds the winner alive).
      try {
        unlinkSync(lock);
      } catch {
        /* someone else removed it */
      }
    }
    throw new OwnerLockError(`${what} ${path}: could not take its lock ${lock}`);
  }

  /** Remove the lock if it is still ours. */
  release(): void {
    const o = readOwner(this.lock);
    if (o && o !== "foreign" && o.id === this.me.id) {
      try {
        unlinkSync(this.lock);
      } catch {
        /* already gone */
      }
    }
  }
}
