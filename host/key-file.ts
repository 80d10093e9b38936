// A pre-shared key file: 1 to 32 bytes in hex, '#' comments and whitespace
// ignored (boards/dev-psk.hex). Read bounded (host/bounded-read.ts): a key
// file is a few lines, and a FIFO or a device named as one is refused, not
// waited on or read without end.
import { readBoundedSync, readBounded } from "./bounded-read.ts";

/** Most bytes a key file may hold: 32 bytes of hex with comments. */
export const MAX_KEY_FILE_BYTES = 4096;
const LIMIT = { max: MAX_KEY_FILE_BYTES, what: "key file" };

/** The key in a key file's text; throws with what is wrong (never the text). */
export function parseKeyText(text: string, path: string): Uint8Array {
  const hex = text
    .split("\n")
    .map((l) => l.replace(/#.*/, ""))
    .join("")
    .replace(/\s+/g, "");
  if (!/^([0-9a-fA-F]{2}){1,32}$/.test(hex)) throw new Error(`key file ${path}: expected 1 to 32 bytes in hex`);
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

export function readKeyFile(path: string): Uint8Array {
  return parseKeyText(readBoundedSync(path, LIMIT).data.toString("utf8"), path);
}

/** The same without blocking the event loop on the file. */
export async function readKeyFileAsync(path: string): Promise<Uint8Array> {
  return parseKeyText((await readBounded(path, LIMIT)).data.toString("utf8"), path);
}
