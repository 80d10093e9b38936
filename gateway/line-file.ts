// What the gateway's files of JSON lines (json-log.ts: the spool and the
// downlink queue; incoming-store.ts) share: reading one back at start, with
// the same answer to damage, and rewriting one atomically.
import { openSync, writeSync, fsyncSync, closeSync, readFileSync, renameSync, copyFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { readBoundedSync, FileError, aOrAn, type Bounded } from "../host/bounded-read.ts";

/** How much of an existing file is read to tell whether it is ours. */
export const CLAIM_BYTES = 64 * 1024;

/** Why an existing file (read with readBounded, noFollow, head: CLAIM_BYTES)
 *  is not one of the gateway's files of JSON lines of this kind, or
 *  undefined when it is: empty, a line of its head is a record of the
 *  kind (`isRecord`), or it is one torn record (no newline yet). A file
 *  that is not refused is rewritten at start, so anything else is left
 *  alone. */
export function lineFileProblem(
  path: string,
  f: Bounded,
  what: string,
  isRecord: (r: unknown) => boolean,
): string | undefined {
  if (f.size === 0) return undefined;
  const head = f.data.toString("utf8");
  if (!head.includes("\n") && head.startsWith('{"')) return undefined;
  for (const l of head.split("\n")) {
    try {
      if (isRecord(JSON.parse(l))) return undefined;
    } catch {
      /* not a record */
    }
  }
  return `${path} exists and is not ${aOrAn(what)} (no line of it is ${aOrAn(what)} record): refusing to overwrite it`;
}

/** Throw a FileError unless `path` is absent or one of ours (lineFileProblem);
 *  a symbolic link, a directory, a FIFO or a device is refused as well. */
export function claimLineFile(path: string, what: string, isRecord: (r: unknown) => boolean): void {
  let f: Bounded;
  try {
    f = readBoundedSync(path, { max: CLAIM_BYTES, what, noFollow: true, head: true });
  } catch (e) {
    if (e instanceof FileError && e.code === "ENOENT") return;
    throw e;
  }
  const why = lineFileProblem(path, f, what, isRecord);
  if (why) throw new FileError(why);
}

export interface Replay {
  /** Labels the log lines ("spool"). */
  name: string;
  /** One record in them ("message"). */
  entry: string;
  /** Take one line; false when it cannot be read. */
  take(line: string): boolean;
  /** Records kept, for the corrupt-file line. */
  kept(): number;
}

/** Read `path` and feed its lines to `r.take`; returns the text ("" when
 *  there is no file, or it cannot be read: logged). A torn last line (a
 *  crash mid-write: that record was never acknowledged) is ignored; any
 *  other unreadable line is logged, skipped, and the file kept as .corrupt. */
export function replayLines(path: string, log: Logger, r: Replay): string {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT")
      log.error({ file: path, err: (e as Error).message }, `${r.name}: cannot read; starting empty`);
  }
  const lines = text.split("\n");
  let bad = 0;
  lines.forEach((l, n) => {
    if (!l || r.take(l)) return;
    if (n === lines.length - 1)
      log.warn(
        { file: path },
        `${r.name}: torn last line ignored (a crash mid-write; that ${r.entry} was never acknowledged)`,
      );
    else {
      bad++;
      log.error({ file: path, line: n + 1, text: l.slice(0, 80) }, `${r.name}: unreadable record skipped`);
    }
  });
  if (bad) {
    try {
      copyFileSync(path, path + ".corrupt");
    } catch {
      /* best effort */
    }
    log.error(
      { file: path, skipped: bad, kept: r.kept(), copy: path + ".corrupt" },
      `${r.name}: corrupt file; continuing with the records that could be read`,
    );
  }
  return text;
}

/** Replace `path` with `text`, durably: a temporary file fsync'd, renamed
 *  over it, and the directory fsync'd so the rename itself survives. */
export function rewriteFile(path: string, text: string): void {
  const tmp = path + ".tmp";
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(dirname(path), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
