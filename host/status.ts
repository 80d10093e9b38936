// Status codes for the host: names and messages generated from the same
// source the core is built from (assembly/status.ts, via host/abi.ts), so
// they never drift apart.
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { STATUS_INFO, Status } from "./abi.ts";

export { Status };

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

export function statusName(code: number): string {
  return STATUS_INFO.get(code)?.name ?? `STATUS_${code}`;
}

export function statusMessage(code: number): string {
  return STATUS_INFO.get(code)?.message ?? "unknown status";
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
