// One interface for every link the host speaks QN over: a serial port (real
// board or QEMU's pty), an in-memory pair (in-process device, tests), or
// TCP (TLS too). A transport moves bytes only: framing and protocol live in the core.
//
// Contract:
//  - open() resolves when bytes can flow, or rejects with a TransportError
//    whose message says what to do (no such port, permission denied).
//  - write() resolves when the bytes are handed to the OS / peer; it rejects
//    with TransportError (disconnected = true) once the link is gone.
//  - the data listener gets every received chunk, in order, any chunking.
//  - the close listener runs once, with an error if the link was lost.
import { Status } from "../status.ts";
export interface Transport {
  readonly name: string;
  open(): Promise<void>;
  write(bytes: Uint8Array): Promise<void>;
  onData(listener: (bytes: Uint8Array) => void): void;
  onClose(listener: (err?: Error) => void): void;
  close(): Promise<void>;
}

/** A transport failure. It carries ERR_IO as `status` and `code`, like a
 *  QnError, so a caller tells every failure by one shape. */
export class TransportError extends Error {
  /** The link was there and is gone (unplugged, peer closed). */
  readonly disconnected: boolean;
  readonly status: number = Status.ERR_IO;
  readonly code = "ERR_IO";
  constructor(message: string, opts: { disconnected?: boolean; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "TransportError";
    this.disconnected = opts.disconnected ?? false;
  }
}
