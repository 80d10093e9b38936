// What the gateway's files of JSON lines (json-log.ts: the spool and the
// downlink queue; incoming-store.ts) share: reading one back at start, with
// the same answer to damage, and rewriting one atomically.
import { openSync, writeSync, fsyncSync, closeSync, readFileSync, renameSync, copyFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";

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
  try { text = readFileSync(path, "utf8"); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") log.error({ file: path, err: (e as Error).message }, `${r.name}: cannot read; starting empty`);
  }
  const lines = text.split("\n");
  let bad = 0;
  lines.forEach((l, n) => {
    if (!l || r.take(l)) return;
    if (n === lines.length - 1) log.warn({ file: path }, `${r.name}: torn last line ignored (a crash mid-write; that ${r.entry} was never acknowledged)`);
    else { bad++; log.error({ file: path, line: n + 1, text: l.slice(0, 80) }, `${r.name}: unreadable record skipped`); }
  });
  if (bad) {
    try { copyFileSync(path, path + ".corrupt"); } catch { /* best effort */ }
    log.error({ file: path, skipped: bad, kept: r.kept(), copy: path + ".corrupt" }, `${r.name}: corrupt file; continuing with the records that could be read`);
  }
  return text;
}

/** Replace `path` with `text`, durably: a temporary file fsync'd, renamed
 *  over it, and the directory fsync'd so the rename itself survives. */
export function rewriteFile(path: string, text: string): void {
  const tmp = path + ".tmp";
  const fd = openSync(tmp, "w");
  try { writeSync(fd, text); fsyncSync(fd); } finally { closeSync(fd); }
  renameSync(tmp, path);
  const dir = openSync(dirname(path), "r");
  try { fsyncSync(dir); } finally { closeSync(dir); }
}
