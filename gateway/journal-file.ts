// A device's journal file on the gateway: JOURNAL_BYTES of NOR-flash rules
// (host/storage.ts), with a QN journal in it (host/journal-image.ts). A
// config may name any path as `journal:`, so the file is taken only when
// it is absent, empty, or already a journal of this size: anything else
// (another program's file, /dev/zero, a directory, a symbolic link) is
// refused with the reason and left as it is.
import { FileStorage } from "../host/storage.ts";
import { journalImageProblem } from "../host/journal-image.ts";
import type { Bounded } from "../host/bounded-read.ts";

export const JOURNAL_BYTES = 64 * 1024;
export const JOURNAL_WHAT = "journal file";

/** Why an existing file (read with readBounded, noFollow, head) cannot be
 *  a device's journal, or undefined when it can. */
export function journalFileProblem(path: string, f: Bounded): string | undefined {
  if (f.size === 0) return undefined;
  if (f.size !== JOURNAL_BYTES)
    return `${path} is ${f.size} bytes, not a ${JOURNAL_WHAT} (${JOURNAL_BYTES} bytes): refusing to overwrite it`;
  const why = journalImageProblem(f.data);
  return why ? `${path} ${why}, so it is not a ${JOURNAL_WHAT}: refusing to overwrite it` : undefined;
}

/** A journal that reports how long each group commit kept its callers
 *  waiting (qn_journal_flush_seconds): a call that found nothing to flush
 *  is not reported, a call that waited for a flush already under way is. */
class TimedJournal extends FileStorage {
  constructor(
    path: string,
    private readonly flushed: (seconds: number) => void,
    lean: { closeWhenIdle?: boolean; mirror?: boolean },
  ) {
    super(path, JOURNAL_BYTES, { groupCommit: true, what: JOURNAL_WHAT, accept: journalImageProblem, ...lean });
  }
  override syncAsync(): Promise<void> {
    return timedSync(
      () => super.syncAsync(),
      () => this.fsyncs,
      this.flushed,
    );
  }
}

/** `sync()`, telling `flushed` how long it kept the caller waiting when a
 *  flush ran meanwhile (`fsyncs` counts them). */
export async function timedSync(
  sync: () => Promise<void>,
  fsyncs: () => number,
  flushed?: (seconds: number) => void,
): Promise<void> {
  const before = fsyncs(),
    t0 = process.hrtime.bigint();
  await sync();
  if (flushed && fsyncs() !== before) flushed(Number(process.hrtime.bigint() - t0) / 1e9);
}

/** Open (or make) the journal at `path`; throws a FileError for a path
 *  that is not one. Writes reach the disk in group commits (Peer.flush);
 *  `flushed` hears how long each took. closeWhenIdle, mirror: see FileStorage. */
export function openJournal(
  path: string,
  flushed: (seconds: number) => void = () => {},
  opts: { closeWhenIdle?: boolean; mirror?: boolean } = {},
): FileStorage {
  return new TimedJournal(path, flushed, opts);
}
