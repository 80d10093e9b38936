// The ops API's bearer token file (gateway.ops.token_file): made by the
// gateway with mode 0600 when missing. An existing file is used only when
// it is plainly the gateway's own: a regular file owned by the gateway's
// user, with no permission for anyone else, holding one token line. Any
// other file is refused with the reason, never chmod'ed or taken as a
// token: a config naming someone else's file must not turn its contents
// into the key of the ops API or change who can read it.
import { openSync, writeSync, closeSync, mkdirSync, constants, type Stats } from "node:fs";
import { dirname } from "node:path";
import { randomBytes } from "node:crypto";
import { readBoundedSync, FileError, type Bounded } from "../host/bounded-read.ts";

export const MAX_TOKEN_FILE_BYTES = 1024;
export const TOKEN_LIMIT = { max: MAX_TOKEN_FILE_BYTES, what: "token file" };
/** One line of printable ASCII without spaces (a made token is 48 hex digits). */
const TOKEN = /^[\x21-\x7e]{16,512}$/;

/** Why an existing file (read with readBounded) cannot be the token file,
 *  or undefined when it can. */
export function tokenFileProblem(path: string, f: Bounded): string | undefined {
  const st: Stats = f.stat;
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid)
    return `${path} is owned by uid ${st.uid}, not by the gateway's user (uid ${uid}): refusing to use it as the token file`;
  if ((st.mode & 0o077) !== 0)
    return `${path} has mode ${(st.mode & 0o777).toString(8).padStart(3, "0")}: a token file is for the gateway's user only (chmod 600 it, or remove it and the gateway makes a new one)`;
  if (!TOKEN.test(f.data.toString("utf8").trim()))
    return `${path} does not hold a token (one line of 16 to 512 printable characters): refusing to use it as the token file`;
  return undefined;
}

/** The token in `path`, made (0600) when the file is missing; throws a
 *  FileError for a file that is not a token file. */
export function ensureToken(path: string): string {
  mkdirSync(dirname(path), { recursive: true });
  const made = randomBytes(24).toString("hex");
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  if (fd !== undefined) {
    try {
      writeSync(fd, made + "\n");
    } finally {
      closeSync(fd);
    }
    return made;
  }
  const f = readBoundedSync(path, TOKEN_LIMIT);
  const why = tokenFileProblem(path, f);
  if (why) throw new FileError(why);
  return f.data.toString("utf8").trim();
}
