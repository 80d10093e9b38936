// The files a config names, checked when the config is loaded, so that a
// problem is refused with the key that names it (`devices[0].key_file:
// /dev/zero is a character device, not a key file`) before anything
// starts or changes. Every read is bounded and a FIFO or device is refused
// without being read (host/bounded-read.ts); the reload path uses the async
// runner, so a reload never holds the event loop on a file. Files the
// gateway writes (journals, the spool, the token file) may be absent; when
// they exist they must be the gateway's own kind of file, or the config is
// refused and the file left alone (a path in a config must never be a way
// to overwrite, chmod or read someone else's file).
import { readBoundedSync, readBounded, FileError, type ReadLimit, type Bounded } from "../host/bounded-read.ts";
import { parseKeyText, MAX_KEY_FILE_BYTES } from "../host/key-file.ts";
import { JOURNAL_BYTES, JOURNAL_WHAT, journalFileProblem } from "./journal-file.ts";
import { lineFileProblem, CLAIM_BYTES } from "./line-file.ts";
import { isJsonLogRecord } from "./json-log.ts";
import { tokenFileProblem, TOKEN_LIMIT } from "./token-file.ts";
import type { Config } from "./config.ts";

/** Most bytes of a TLS certificate, key or CA bundle file. */
export const MAX_TLS_FILE_BYTES = 1024 * 1024;
export const TLS_LIMIT: ReadLimit = { max: MAX_TLS_FILE_BYTES, what: "TLS file" };
const KEY_LIMIT: ReadLimit = { max: MAX_KEY_FILE_BYTES, what: "key file" };

/** What the checks found: one line per problem, and each device's key. */
export interface FileFindings {
  problems: string[];
  keys: Map<string, Uint8Array>;
}

interface Check {
  /** The config key naming the file. */
  at: string;
  path: string;
  limit: ReadLimit;
  /** The gateway makes the file when it is missing. */
  absentOk?: boolean;
  /** Judge what was read: throws with what is wrong. */
  use(read: Bounded, f: FileFindings): void;
}

/** A use() that refuses the file with the reason `judge` gives. */
const refuseIf = (judge: (read: Bounded) => string | undefined) => (read: Bounded) => {
  const why = judge(read);
  if (why) throw new Error(why);
};

function checksOf(c: Config): Check[] {
  const out: Check[] = [];
  c.devices.forEach((d, i) => {
    out.push({
      at: `devices[${i}].key_file`,
      path: d.key_file,
      limit: KEY_LIMIT,
      use: (r, f) => {
        f.keys.set(d.id, parseKeyText(r.data.toString("utf8"), d.key_file));
      },
    });
    out.push({
      at: `devices[${i}].journal`,
      path: d.journal,
      absentOk: true,
      limit: { max: JOURNAL_BYTES, what: JOURNAL_WHAT, noFollow: true, head: true },
      use: refuseIf((r) => journalFileProblem(d.journal, r)),
    });
  });
  if (c.tls)
    for (const k of ["cert", "key", "ca"] as const)
      out.push({ at: `tls.${k}`, path: c.tls[k], limit: TLS_LIMIT, use: () => {} });
  if (c.tls?.crl) out.push({ at: "tls.crl", path: c.tls.crl, limit: TLS_LIMIT, use: () => {} });
  const spool = c.gateway.spool,
    token = c.gateway.ops.token_file;
  out.push({
    at: "gateway.spool",
    path: spool,
    absentOk: true,
    limit: { max: CLAIM_BYTES, what: "spool file", noFollow: true, head: true },
    use: refuseIf((r) => lineFileProblem(spool, r, "spool file", isJsonLogRecord)),
  });
  out.push({
    at: "gateway.ops.token_file",
    path: token,
    absentOk: true,
    limit: TOKEN_LIMIT,
    use: refuseIf((r) => tokenFileProblem(token, r)),
  });
  return out;
}

const findings = (): FileFindings => ({ problems: [], keys: new Map() });

function note(ch: Check, e: unknown, f: FileFindings): void {
  if (ch.absentOk && e instanceof FileError && e.code === "ENOENT") return;
  f.problems.push(`${ch.at}: ${(e as Error).message}`);
}

/** The checks at start-up (nothing else runs yet). */
export function checkFilesSync(c: Config): FileFindings {
  const f = findings();
  for (const ch of checksOf(c)) {
    try {
      ch.use(readBoundedSync(ch.path, ch.limit), f);
    } catch (e) {
      note(ch, e, f);
    }
  }
  return f;
}

/** The same without blocking the event loop (reload). */
export async function checkFiles(c: Config): Promise<FileFindings> {
  const f = findings();
  for (const ch of checksOf(c)) {
    try {
      ch.use(await readBounded(ch.path, ch.limit), f);
    } catch (e) {
      note(ch, e, f);
    }
  }
  return f;
}
