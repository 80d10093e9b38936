// Reading a file a config names (the config itself, a key file, a TLS
// file, a token), bounded: the read never waits on something that is not a
// file and never takes more than its limit. The file is opened with
// O_NONBLOCK (so the open of a FIFO returns at once instead of waiting for
// a writer), fstat'd on that descriptor, refused unless it is a regular file
// or when it is over the limit, and the bytes read are counted again (a
// file that grows while it is read). Messages name the path and what is
// wrong with it, never its contents.
import { openSync, fstatSync, readSync, closeSync, constants, type Stats } from "node:fs";
import { open } from "node:fs/promises";

/** A file that cannot be used for what it was named for; `code` is the
 *  system's error code when there was one (ENOENT: no such file). */
export class FileError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = "FileError";
  }
}

/** "a" or "an" and `what`: "a key file", "an incoming store file". */
export function aOrAn(what: string): string {
  return `${/^[aeiou]/i.test(what) ? "an" : "a"} ${what}`;
}

/** What a file system object is, in words ("a directory"). */
export function kindOf(st: Stats): string {
  if (st.isFile()) return "a regular file";
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  if (st.isSymbolicLink()) return "a symbolic link";
  return "not a regular file";
}

export interface ReadLimit {
  /** Most bytes the file may hold. */
  max: number;
  /** What the file is for, in the messages ("key file"). */
  what: string;
  /** Refuse a symbolic link instead of following it. */
  noFollow?: boolean;
  /** Read only the first `max` bytes of a larger file instead of refusing it. */
  head?: boolean;
}

const READ_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;
const flagsOf = (l: ReadLimit) => READ_FLAGS | (l.noFollow ? constants.O_NOFOLLOW : 0);

function openError(path: string, e: NodeJS.ErrnoException, l: ReadLimit): FileError {
  if (e.code === "ELOOP" && l.noFollow)
    return new FileError(`${path} is a symbolic link, not ${aOrAn(l.what)}`, e.code);
  if (e.code === "ENOENT") return new FileError(`${l.what} ${path} does not exist`, e.code);
  return new FileError(`cannot open ${l.what} ${path}: ${e.code ?? e.message}`, e.code);
}

function checkStat(path: string, st: Stats, l: ReadLimit): void {
  if (!st.isFile()) throw new FileError(`${path} is ${kindOf(st)}, not ${aOrAn(l.what)}`);
  if (!l.head && st.size > l.max)
    throw new FileError(`${path} is ${st.size} bytes: ${aOrAn(l.what)} is at most ${l.max}`);
}

function tooLong(path: string, l: ReadLimit): FileError {
  return new FileError(`${path} holds more than ${l.max} bytes: ${aOrAn(l.what)} is at most ${l.max}`);
}

/** What a bounded read gives: the bytes (the first `max` with `head`), the
 *  file's size and the rest of its fstat. */
export interface Bounded {
  data: Buffer;
  size: number;
  stat: Stats;
}

export function readBoundedSync(path: string, l: ReadLimit): Bounded {
  let fd: number;
  try {
    fd = openSync(path, flagsOf(l));
  } catch (e) {
    throw openError(path, e as NodeJS.ErrnoException, l);
  }
  try {
    const st = fstatSync(fd);
    checkStat(path, st, l);
    const buf = Buffer.alloc(l.max + 1);
    let n = 0;
    for (let r = -1; r !== 0; ) {
      r = readSync(fd, buf, n, buf.length - n, n);
      n += r;
      if (n > l.max) {
        n = pastLimit(path, l);
        break;
      }
    }
    return { data: buf.subarray(0, n), size: st.size, stat: st };
  } finally {
    closeSync(fd);
  }
}

/** A read that went past the limit: a head read keeps the limit's worth,
 *  any other is refused. */
function pastLimit(path: string, l: ReadLimit): number {
  if (l.head) return l.max;
  throw tooLong(path, l);
}

/** The same without blocking the event loop on the file. */
export async function readBounded(path: string, l: ReadLimit): Promise<Bounded> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, flagsOf(l));
  } catch (e) {
    throw openError(path, e as NodeJS.ErrnoException, l);
  }
  try {
    const st = await fh.stat();
    checkStat(path, st, l);
    const buf = Buffer.alloc(l.max + 1);
    let n = 0;
    for (let r = -1; r !== 0; ) {
      r = (await fh.read(buf, n, buf.length - n, n)).bytesRead;
      n += r;
      if (n > l.max) {
        n = pastLimit(path, l);
        break;
      }
    }
    return { data: buf.subarray(0, n), size: st.size, stat: st };
  } finally {
    await fh.close();
  }
}
