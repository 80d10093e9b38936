// The files a config names, checked when the config is loaded, so that a
// problem is refused with the key that names it (`devices[0].key_file:
// /dev/zero is a character device, not a key file`) before anything
// starts or changes. Every read is bounded and a FIFO or device is refused
// without being read (host/bounded-read.ts); the reload path uses the async
// runner, so a reload never holds the event loop on a file.
import { readBoundedSync, readBounded, type ReadLimit } from "../host/bounded-read.ts";
import { parseKeyText, MAX_KEY_FILE_BYTES } from "../host/key-file.ts";
import type { Config } from "./config.ts";

/** Most bytes of a TLS certificate, key or CA bundle file. */
export const MAX_TLS_FILE_BYTES = 1024 * 1024;
export const TLS_LIMIT: ReadLimit = { max: MAX_TLS_FILE_BYTES, what: "TLS file" };
const KEY_LIMIT: ReadLimit = { max: MAX_KEY_FILE_BYTES, what: "key file" };

/** What the checks found: one line per problem, and each device's key. */
export interface FileFindings { problems: string[]; keys: Map<string, Uint8Array> }

interface Check {
  /** The config key naming the file. */
  at: string;
  path: string;
  limit: ReadLimit;
  /** Judge the bytes read: throws with what is wrong. */
  use(data: Buffer, f: FileFindings): void;
}

function checksOf(c: Config): Check[] {
  const out: Check[] = [];
  c.devices.forEach((d, i) => {
    out.push({
      at: `devices[${i}].key_file`, path: d.key_file, limit: KEY_LIMIT,
      use: (b, f) => { f.keys.set(d.id, parseKeyText(b.toString("utf8"), d.key_file)); },
    });
  });
  if (c.tls) for (const k of ["cert", "key", "ca"] as const) out.push({ at: `tls.${k}`, path: c.tls[k], limit: TLS_LIMIT, use: () => {} });
  return out;
}

const findings = (): FileFindings => ({ problems: [], keys: new Map() });

/** The checks at start-up (nothing else runs yet). */
export function checkFilesSync(c: Config): FileFindings {
  const f = findings();
  for (const ch of checksOf(c)) {
    try { ch.use(readBoundedSync(ch.path, ch.limit).data, f); } catch (e) { f.problems.push(`${ch.at}: ${(e as Error).message}`); }
  }
  return f;
}

/** The same without blocking the event loop (reload). */
export async function checkFiles(c: Config): Promise<FileFindings> {
  const f = findings();
  for (const ch of checksOf(c)) {
    try { ch.use((await readBounded(ch.path, ch.limit)).data, f); } catch (e) { f.problems.push(`${ch.at}: ${(e as Error).message}`); }
  }
  return f;
}
