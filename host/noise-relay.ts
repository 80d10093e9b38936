// A line-noise relay between a device's serial line and its host: it holds
// one stream connection to the device side (QEMU's UART exposed as a unix
// or TCP socket, `-serial unix:<path>,server=on,wait=off`) and listens for
// the host side (a TCP port on 127.0.0.1, or a unix socket); every byte
// crossing it passes through a seeded LineNoise of its direction
// (host/line-noise.ts). Node cannot open a pty master, so the QEMU board's
// serial line is relayed at its socket chardev instead of a pty.
// One host at a time: a new host connection replaces the one before it;
// what the device sends while no host is connected is lost, as on a cable
// with nobody at the other end.
import { createServer, connect, type Server, type Socket } from "node:net";
import { LineNoise, type NoiseOptions } from "./line-noise.ts";

/** A stream endpoint: a unix socket path, or host and port. */
export type Endpoint = { path: string } | { host?: string; port: number };

export interface RelayOptions {
  /** The device side, connected once at start. */
  device: Endpoint;
  /** Where hosts connect (default: a free TCP port on 127.0.0.1). */
  listen?: Endpoint;
  noise: NoiseOptions;
  /** Keep trying the device side this long while it is not there yet
   *  (QEMU makes its socket as it starts), ms; default 0. */
  waitMs?: number;
}

export function endpointName(e: Endpoint): string {
  return "path" in e ? e.path : `${e.host ?? "127.0.0.1"}:${e.port}`;
}

/** "tcp:HOST:PORT", "HOST:PORT", ":PORT", "unix:PATH" or a path. */
export function parseEndpoint(s: string): Endpoint {
  if (s.startsWith("unix:")) return { path: s.slice(5) };
  const t = s.startsWith("tcp:") ? s.slice(4) : s;
  const m = /^(.*):(\d+)$/.exec(t);
  if (m) return { host: m[1].replace(/^\[|\]$/g, "") || "127.0.0.1", port: Number(m[2]) };
  if (s.startsWith("tcp:")) throw new RangeError(`${s}: expected tcp:HOST:PORT`);
  return { path: s };
}

async function dial(e: Endpoint, waitMs: number): Promise<Socket> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await dialOnce(e);
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function dialOnce(e: Endpoint): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = "path" in e ? connect(e.path) : connect(e.port, e.host ?? "127.0.0.1");
    const fail = (err: Error) => reject(new Error(`relay: cannot connect to ${endpointName(e)}: ${err.message}`));
    s.once("error", fail);
    s.once("connect", () => {
      s.off("error", fail);
      s.setNoDelay?.(true);
      resolve(s);
    });
  });
}

export class NoiseRelay {
  /** Damage to what the host sends the device, and to what comes back. */
  readonly toDevice: LineNoise;
  readonly toHost: LineNoise;
  private host?: Socket;
  private done = false;
  private ended!: () => void;
  /** Settles when the relay has closed (close(), or the device side went). */
  readonly closed = new Promise<void>((r) => {
    this.ended = r;
  });

  private constructor(
    private readonly device: Socket,
    private readonly server: Server,
    /** Where a host connects (endpointName form; tcp:host:port for TCP). */
    readonly address: string,
    noise: NoiseOptions,
  ) {
    const seed = noise.seed ?? 1;
    this.toDevice = new LineNoise({ ...noise, seed: seed * 2 + 1 });
    this.toHost = new LineNoise({ ...noise, seed: seed * 2 + 2 });
    device.on("data", (b: Buffer) => {
      const d = this.toHost.apply(b);
      if (d.length && this.host && !this.host.destroyed) this.host.write(d);
    });
    // The device side going away ends the relay: nothing left to carry.
    device.on("error", () => {});
    device.on("close", () => void this.close());
    server.on("connection", (s) => {
      this.host?.destroy();
      this.host = s;
      s.setNoDelay(true);
      s.on("error", () => {});
      s.on("data", (b: Buffer) => {
        const d = this.toDevice.apply(b);
        if (d.length && !device.destroyed) device.write(d);
      });
      s.on("close", () => {
        if (this.host === s) this.host = undefined;
      });
    });
  }

  static async start(o: RelayOptions): Promise<NoiseRelay> {
    // Checked before anything opens, so a bad rate leaves nothing behind.
    new LineNoise(o.noise);
    const device = await dial(o.device, o.waitMs ?? 0);
    const server = createServer();
    const listen = o.listen ?? { host: "127.0.0.1", port: 0 };
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        if ("path" in listen) server.listen(listen.path, resolve);
        else server.listen(listen.port, listen.host ?? "127.0.0.1", resolve);
      });
    } catch (e) {
      device.destroy();
      throw new Error(`relay: cannot listen on ${endpointName(listen)}: ${(e as Error).message}`);
    }
    const a = server.address();
    const address = typeof a === "string" ? a : a ? `tcp:${a.address}:${a.port}` : endpointName(listen);
    return new NoiseRelay(device, server, address, o.noise);
  }

  /** Close both sides and stop listening. Safe to call twice. */
  async close(): Promise<void> {
    if (this.done) return this.closed;
    this.done = true;
    this.host?.destroy();
    this.device.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    this.ended();
  }
}
