// Status codes for the host, read from the same source the core is built
// from (assembly/status.ts), so names and messages never drift apart.
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { readStatus } from "../tools/abi-source.mjs";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

interface StatusInfo { name: string; value: number; message: string }
const table: StatusInfo[] = readStatus(ROOT);
const byValue = new Map(table.map((s) => [s.value, s]));

/** Status codes by name, e.g. Status.ERR_CRC === -1. */
export const Status: Record<string, number> = Object.fromEntries(table.map((s) => [s.name, s.value]));

export function statusName(code: number): string {
  return byValue.get(code)?.name ?? `STATUS_${code}`;
}

export function statusMessage(code: number): string {
  return byValue.get(code)?.message ?? "unknown status";
}

/** An error carrying a QN status: `name` is QnError, `status` the code,
 *  `code` its name (ERR_CRC...), and the message says what failed. */
export class QnError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, what: string) {
    super(`${what}: ${statusName(status)} (${status}): ${statusMessage(status)}`);
    this.name = "QnError";
    this.status = status;
    this.code = statusName(status);
  }
}

/** Throw a QnError when `r` is a negative status; otherwise return it. */
export function check(r: number, what: string): number {
  if (r < 0) throw new QnError(r, what);
  return r;
}
