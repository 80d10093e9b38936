// TCP transport: the same COBS-framed byte stream as a serial line, carried
// by a stream socket (optionally TLS 1.3 with mutual certificates through
// node:tls). Framing lives in the core, so this moves bytes only. The
// gateway accepts device connections (wrap()); devices and tests connect
// (tcpConnect()).
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { TransportError, type Transport } from "./transport.ts";

export class TcpTransport implements Transport {
  private dataListeners: ((b: Uint8Array) => void)[] = [];
  private closeListeners: ((e?: Error) => void)[] = [];
  private closed = false;

  constructor(
    readonly socket: Socket,
    readonly name = `tcp:${socket.remoteAddress}:${socket.remotePort}`,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (b: Buffer) => {
      for (const l of this.dataListeners) l(b);
    });
    socket.on("error", (e) =>
      this.finish(new TransportError(`${this.name}: ${e.message}`, { disconnected: true, cause: e })),
    );
    socket.on("close", () =>
      this.finish(new TransportError(`${this.name}: connection closed`, { disconnected: true })),
    );
  }

  async open(): Promise<void> {}

  private finish(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.closeListeners) l(err);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.closed || this.socket.destroyed)
      return Promise.reject(new TransportError(`${this.name}: not connected`, { disconnected: true }));
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (err) =>
        err
          ? reject(new TransportError(`${this.name}: write failed: ${err.message}`, { disconnected: true, cause: err }))
          : resolve(),
      );
    });
  }

  /** Stop reading (TCP flow control then holds the sender back). */
  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }

  onData(l: (b: Uint8Array) => void): void {
    this.dataListeners.push(l);
  }
  onClose(l: (e?: Error) => void): void {
    this.closeListeners.push(l);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.destroy();
      this.finish();
    });
  }
}

/** Connect to `host:port`; with `tls`, a TLS 1.3 connection. */
export function tcpConnect(address: string, tls?: ConnectionOptions): Promise<TcpTransport> {
  const i = address.lastIndexOf(":");
  const host = address.slice(0, i).replace(/^\[|\]$/g, ""),
    port = Number(address.slice(i + 1));
  return new Promise((resolve, reject) => {
    const sock: Socket = tls ? tlsConnect({ host, port, minVersion: "TLSv1.3", ...tls }) : netConnect({ host, port });
    const ready = tls ? "secureConnect" : "connect";
    const fail = (e: Error) => reject(new TransportError(`cannot connect to ${address}: ${e.message}`, { cause: e }));
    sock.once("error", fail);
    sock.once(ready, () => {
      sock.off("error", fail);
      resolve(new TcpTransport(sock, `tcp:${address}`));
    });
  });
}
