// Test parts: a real mosquitto on a free loopback port (always stopped by
// its pid), emulated devices (the in-process core of host/sim-device.ts)
// connecting to the gateway over TCP, and a device-side publisher.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createServer, connect, type Server, type Socket } from "node:net";
import * as mqttPacket from "mqtt-packet";
import {
  mkdtempSync,
  writeFileSync,
  readFileSync,
  mkdirSync,
  chmodSync,
  accessSync,
  statSync,
  constants,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimDevice } from "../../host/sim-device.ts";
import { tcpConnect, type TcpTransport } from "../../host/transport/tcp.ts";
import type { MemoryStorage } from "../../host/storage.ts";
import type { ConnectionOptions } from "node:tls";
import { readKey } from "../../selftest/targets.ts";
import { ROOT } from "../../host/status.ts";
import { registryText } from "../registry.ts";
import { Codec, Prio, type Qos, Status } from "../../host/abi.ts";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Put the development pre-shared key (boards/dev-psk.hex) in `dir` as
 *  k.hex, the key_file the test configs name; returns its path. */
export function writeDevKey(dir: string): string {
  const path = join(dir, "k.hex");
  writeFileSync(path, readFileSync(join(ROOT, "boards/dev-psk.hex"), "utf8"));
  return path;
}

/** A registry file (gateway/registry.ts) of `records`, as an operator
 *  would provision it (0600: it holds keys). */
export function writeRegistry(file: string, records: object[]): void {
  writeFileSync(file, registryText(records), { mode: 0o600 });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, f: () => boolean | Promise<boolean>, timeoutMs = 10000): Promise<void> {
  const t0 = Date.now();
  while (!(await f())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Whether something accepts a connection on 127.0.0.1:`port` now. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      r(true);
    });
    s.once("error", () => r(false));
  });
}

/** The path of the program `name` (on PATH, or in the sbin folders a
 *  Debian package puts daemons in, which a user's PATH may lack). When it
 *  is not there this throws, naming the Debian package of that name that
 *  `make deps-debian` installs: a test that needs it fails saying so
 *  rather than being skipped. */
export function requireBinary(name: string): string {
  const dirs = [...(process.env.PATH ?? "").split(":").filter(Boolean), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const d of dirs) {
    const path = join(d, name);
    try {
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile()) return path;
    } catch {
      /* not in this folder */
    }
  }
  throw new Error(
    `${name} is not installed (not on PATH nor in /usr/sbin): make deps-debian installs it (Debian package ${name})`,
  );
}

/** mosquitto with the settings of /work/shared/NOTES.md, plus persistence
 *  so a broker restart keeps what it acknowledged (saved on SIGTERM). */
/** MQTT packets as they arrive on a raw connection, taken by command in
 *  arrival order: `await inbox.next("pubrec")`. */
export class PacketInbox {
  readonly got: any[] = [];
  private waiters: (() => void)[] = [];
  push(p: any): void {
    this.got.push(p);
    for (const w of this.waiters.splice(0)) w();
  }
  async next(cmd: string, timeoutMs = 3000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.got.findIndex((p) => p.cmd === cmd);
      if (i >= 0) return this.got.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${cmd} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}

export class Mosquitto {
  proc?: ChildProcess;
  readonly dir = mkdtempSync(join(tmpdir(), "qn-mosq-"));
  constructor(readonly port: number) {
    mkdirSync(join(this.dir, "data"), { recursive: true });
    // Started as root, mosquitto drops to the "mosquitto" user: let it
    // write its persistence file.
    chmodSync(this.dir, 0o755);
    chmodSync(join(this.dir, "data"), 0o777);
    writeFileSync(
      join(this.dir, "mosquitto.conf"),
      [
        `listener ${port} 127.0.0.1`,
        "allow_anonymous true",
        "set_tcp_nodelay true",
        "max_inflight_messages 100",
        "max_queued_messages 0",
        "persistence true",
        `persistence_location ${join(this.dir, "data")}/`,
        "log_dest none",
        "",
      ].join("\n"),
    );
  }
  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.proc = spawn(requireBinary("mosquitto"), ["-c", join(this.dir, "mosquitto.conf")], { stdio: "ignore" });
    const t0 = Date.now();
    while (!(await portOpen(this.port))) {
      if (this.proc.exitCode !== null) throw new Error(`mosquitto exited with ${this.proc.exitCode}`);
      if (Date.now() - t0 > 5000) throw new Error("mosquitto did not open its port");
      await sleep(20);
    }
  }
  /** Stop by pid: SIGTERM (it saves its persistence file), SIGKILL after 3 s. */
  async stop(): Promise<void> {
    await stopByPid(this.proc);
  }
}

/** Stop a child process by its pid: `signal`, then SIGKILL if it has not
 *  exited after `graceMs`; resolves once it has exited. */
export async function stopByPid(
  p: ChildProcess | undefined,
  signal: NodeJS.Signals = "SIGTERM",
  graceMs = 3000,
): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return;
  const done = new Promise((r) => p.once("exit", r));
  process.kill(p.pid, signal);
  const t = setTimeout(() => {
    try {
      process.kill(p.pid!, "SIGKILL");
    } catch {
      /* gone */
    }
  }, graceMs);
  await done;
  clearTimeout(t);
}

/** An emulated device that dials the gateway and redials when cut off. */
export class TcpDevice {
  sim?: SimDevice;
  /** The device's flash before its first connection (a device process
   *  restarted on the flash of an earlier one); fresh when not given. */
  flash?: MemoryStorage;
  t?: TcpTransport;
  connects = 0;
  private stopped = false;
  private seq = 0;
  /** Ids the device core accepted for sending, per QoS. */
  readonly sent: Record<number, number[]> = { 0: [], 1: [], 2: [] };
  constructor(
    readonly id: string,
    readonly address: string,
    public key: Uint8Array,
    private readonly tls?: ConnectionOptions,
    /** Its key's id in the gateway's registry (a fleet device). */
    readonly keyId?: number,
  ) {}

  async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const t = await tcpConnect(this.address, this.tls);
        const closed = new Promise<void>((r) => t.onClose(() => r()));
        this.t = t;
        // A reconnection is the same device: its journal storage is kept.
        const storage = this.sim?.storage ?? this.flash;
        this.sim?.close();
        this.sim = new SimDevice(t, { key: this.key, auth: 2, keyId: this.keyId });
        if (storage) {
          this.sim.storage.data.set(storage.data);
          this.sim.reset();
          this.sim.resets--;
        }
        this.connects++;
        await closed;
      } catch {
        /* gateway not listening yet */
      }
      await sleep(100);
    }
  }

  get up(): boolean {
    return !!this.sim && this.sim.core.sessionUp();
  }

  /** Publish message number `n` on `channel`; false when the core refuses
   *  (window full, link down): the caller tries again later. */
  publish(channel: number, qos: number, n = this.seq): boolean {
    const sim = this.sim;
    if (!sim || !this.up) return false;
    const payload = Buffer.from(`${this.id}:${qos}:${n}`);
    const r = sim.core.tryPublish(channel, qos as Qos, Prio.BULK, Codec.NONE, payload);
    if (r < 0) return false;
    this.sent[qos].push(n);
    if (n === this.seq) this.seq++;
    return true;
  }

  /** Publish `body` as the device's application would, with a binary
   *  trace context ahead of it when `trace` is given (qn_publish_traced).
   *  Returns the packet id (0 for QoS 0) or a negative status. */
  publishBody(channel: number, qos: number, body: Uint8Array, trace?: Uint8Array): number {
    const sim = this.sim;
    if (!sim || !this.up) return Status.ERR_LINK_DOWN;
    return sim.core.tryPublish(channel, qos as Qos, Prio.BULK, Codec.NONE, body, trace);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sim?.close();
    await this.t?.close();
  }

  /** The device process dies without closing its connection (as after a
   *  power cut the gateway sees no FIN): nothing more is read or answered,
   *  no redial; the socket stays open until stop(). */
  halt(): void {
    this.stopped = true;
    this.sim?.close();
    this.t?.socket.pause();
  }
}

/** A TcpDevice (key from `keyFile`) dialing the gateway's listener on
 *  `port`, running, once the gateway's link to it is up; stopped again if
 *  the link does not come up. */
export async function startDevice(
  gw: { links: Map<string, { state: string }> },
  id: string,
  port: number,
  keyFile: string,
  timeoutMs = 10000,
  tls?: ConnectionOptions,
): Promise<TcpDevice> {
  const dev = new TcpDevice(id, `127.0.0.1:${port}`, readKey(keyFile), tls);
  void dev.run();
  try {
    await until("link up", () => dev.up && gw.links.get(id)?.state === "up", timeoutMs);
  } catch (e) {
    await dev.stop();
    throw e;
  }
  return dev;
}

/** Throwaway certificates in `dir` (openssl, EC P-256, valid one day): a
 *  CA (qn-ca), the gateway's server certificate (gateway, for 127.0.0.1),
 *  device client certificates from that CA (tls-dev, other-dev), and a
 *  second CA nobody trusts with one of its own (rogue-ca, rogue-dev). */
export function makeTestCerts(dir: string): void {
  const ossl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const key = (name: string) =>
    ossl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`);
  const ca = (name: string) => {
    key(name);
    ossl("req", "-x509", "-new", "-key", `${name}.key`, "-out", `${name}.crt`, "-days", "1", "-subj", `/CN=${name}`);
  };
  const leaf = (name: string, by: string, ext: string) => {
    key(name);
    ossl("req", "-new", "-key", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`, "-addext", ext);
    ossl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${by}.crt`,
      "-CAkey",
      `${by}.key`,
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "1",
      "-copy_extensions",
      "copy",
    );
  };
  ca("qn-ca");
  ca("rogue-ca");
  leaf("gateway", "qn-ca", "subjectAltName=IP:127.0.0.1");
  leaf("tls-dev", "qn-ca", "extendedKeyUsage=clientAuth");
  leaf("other-dev", "qn-ca", "extendedKeyUsage=clientAuth");
  leaf("rogue-dev", "rogue-ca", "extendedKeyUsage=clientAuth");
}

/** TLS options of a device client trusting `dir`'s qn-ca, with the
 *  certificate `who` of makeTestCerts (none when not given). */
export function clientTls(dir: string, who?: string, extra: object = {}): ConnectionOptions {
  const pem = (f: string) => readFileSync(join(dir, f));
  return {
    ca: pem("qn-ca.crt"),
    servername: undefined,
    ...(who ? { cert: pem(`${who}.crt`), key: pem(`${who}.key`) } : {}),
    ...extra,
  };
}

export type Version = 4 | 5;

/** One client connection seen by the fake broker. */
export class Conn {
  private readonly inbox = new PacketInbox();
  get got(): any[] {
    return this.inbox.got;
  }
  /** Called on every packet as it is parsed, before anything else runs. */
  onPacket?: (p: any) => void;
  constructor(
    readonly sock: Socket,
    private version: Version,
    onConnect: (c: Conn, p: any) => void,
  ) {
    const parser = mqttPacket.parser({ protocolVersion: version });
    parser.on("packet", (p: any) => {
      this.onPacket?.(p);
      if (p.cmd === "connect") return onConnect(this, p);
      if (p.cmd === "subscribe")
        return this.send({ cmd: "suback", messageId: p.messageId, granted: p.subscriptions.map((s: any) => s.qos) });
      if (p.cmd === "pingreq") return this.send({ cmd: "pingresp" });
      this.inbox.push(p);
    });
    sock.on("data", (b) => parser.parse(b as Buffer));
    sock.on("error", () => {});
  }
  send(p: object): void {
    if (!this.sock.destroyed) this.sock.write(mqttPacket.generate(p as any, { protocolVersion: this.version }));
  }
  connack(sessionPresent: boolean): void {
    this.send(
      this.version === 5
        ? { cmd: "connack", sessionPresent, reasonCode: 0 }
        : { cmd: "connack", sessionPresent, returnCode: 0 },
    );
  }
  next(cmd: string, timeoutMs = 3000): Promise<any> {
    return this.inbox.next(cmd, timeoutMs);
  }
}

/** A fake MQTT broker (mqtt-packet on a local net.Server): every packet
 *  is kept for the test, which says what to send back and when. */
export class FakeBroker {
  readonly conns: Conn[] = [];
  private server!: Server;
  port = 0;
  /** What to do with each CONNECT (default: CONNACK, no session). */
  onConnect: (c: Conn, p: any) => void = (c) => c.connack(false);
  constructor(private version: Version) {}
  async start(): Promise<void> {
    this.server = createServer((s) => {
      s.setNoDelay(true);
      this.conns.push(new Conn(s, this.version, (c, p) => this.onConnect(c, p)));
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as { port: number }).port;
  }
  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }
  async conn(n: number): Promise<Conn> {
    await until(`connection ${n}`, () => this.conns.length > n, 5000);
    return this.conns[n];
  }
  async stop(): Promise<void> {
    for (const c of this.conns) c.sock.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
