// The fleet listener: one TCP (or TLS) port for every device of the
// registry. A connection gets a HELLO from a pooled core with no key
// (handshake-pool.ts); the device's WELCOME names its key id; the registry
// gives the key, the pooled core checks the proof under it, and only a
// connection that proved a registered, unrevoked key reaches the gateway
// (admit), which then makes or reuses that device's link.
//
// What a connection that does not prove a key costs is bounded: a pooled
// core for at most the handshake time, FLEET_BYTES of input, one timer; no
// file, no Wasm instance, no link. With every pooled core busy a new
// connection is closed at once (shed). Refusals are counted by reason
// (qn_fleet_refused_total) and logged once per REFUSAL_LOG_MS with the
// counts, never once per attempt.
import type { Server, Socket } from "node:net";
import type { Logger } from "pino";
import type { QnCore } from "../host/core.ts";
import { nowUs } from "../host/clock.ts";
import { Counter } from "../host/frame.ts";
import { SessionStat, SessionState } from "../host/abi.ts";
import { TcpTransport } from "../host/transport/tcp.ts";
import type { Transport } from "../host/transport/transport.ts";
import { HandedOver, CANDIDATE_BYTES } from "./candidate.ts";
import { HandshakePool } from "./handshake-pool.ts";
import { deviceServer } from "./device-listener.ts";
import type { Config } from "./config.ts";
import type { Registry, RegistryDevice } from "./registry.ts";
import type { Metrics } from "./metrics.ts";

/** Connections the kernel may hold for accept() (it caps this at
 *  net.core.somaxconn): in a storm, a connection past a full queue has its
 *  SYN dropped and the device waits out TCP's own retries (1, 3, 7... s)
 *  before the gateway even sees it. */
export const BACKLOG = 4096;

/** How often refusals are summed up in the log. */
export const REFUSAL_LOG_MS = 10_000;

/** Why a connection got no link: its key id is not in the registry, or is
 *  revoked; its proof failed under the key named (wrong_key); it named no
 *  key (unnamed); it refused our HELLO (refused: another auth mode or
 *  protocol version); it did not finish in time, sent what is not a
 *  handshake, or closed; it closed without sending a byte (silent: a load
 *  balancer's TCP health check, a port scan); or every pooled core was
 *  busy (shed). */
export type Refusal =
  | "unknown"
  | "revoked"
  | "wrong_key"
  | "unnamed"
  | "refused"
  | "timeout"
  | "garbage"
  | "shed"
  | "closed"
  | "silent";

export type FleetConfig = NonNullable<Config["fleet"]>;

export interface FleetEnv {
  log: Logger;
  metrics: Metrics;
  tls?: Config["tls"];
  registry(): Registry;
  /** A connection that proved `dev`'s key: the gateway's from here. */
  admit(dev: RegistryDevice, conn: Transport): void;
}

export class FleetListener {
  readonly pool: HandshakePool;
  /** Refusals since start, by reason. */
  readonly refused = new Map<Refusal, number>();
  private logged = new Map<Refusal, number>();
  private server?: Server;
  private logTimer?: NodeJS.Timeout;
  private readonly pending = new Set<Identify>();
  /** Handshake times of admitted connections, µs, for the benchmark. */
  readonly handshakeUs: number[] = [];

  constructor(
    readonly cfg: FleetConfig,
    private readonly env: FleetEnv,
  ) {
    this.pool = new HandshakePool(cfg.handshake_pool, { auth: cfg.auth, handshakeMs: cfg.handshake_ms });
  }

  start(): Promise<void> {
    const onSocket = (s: Socket) => this.connection(s);
    const tls = this.env.tls;
    const server = deviceServer(this.cfg.tls ? tls : undefined, onSocket);
    server.on("tlsClientError", () => this.refuse("garbage"));
    this.server = server;
    this.logTimer = setInterval(() => this.logRefusals(), REFUSAL_LOG_MS);
    this.logTimer.unref();
    const a = this.cfg.listen,
      i = a.lastIndexOf(":");
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(
        { port: Number(a.slice(i + 1)), host: a.slice(0, i).replace(/^\[|\]$/g, ""), backlog: BACKLOG },
        () => {
          server.off("error", reject);
          this.env.log.info({ listen: a, tls: this.cfg.tls, pool: this.cfg.handshake_pool }, "fleet listener open");
          resolve();
        },
      );
    });
  }

  get port(): number {
    return (this.server?.address() as { port: number } | null)?.port ?? 0;
  }

  private connection(s: Socket): void {
    let core: QnCore | undefined;
    try {
      core = this.pool.take();
    } catch (e) {
      this.env.log.error({ err: (e as Error).message }, "fleet: cannot start a handshake");
    }
    if (!core) {
      this.refuse("shed");
      s.destroy();
      return;
    }
    const t = new TcpTransport(s, `tcp:${s.remoteAddress}:${s.remotePort}`);
    const id = new Identify(t, core, this.cfg.handshake_ms, this.env.registry(), (r) => {
      this.pending.delete(id);
      this.pool.give(core!);
      if (r.ok) {
        this.handshakeUs.push(r.us);
        this.env.admit(r.device, r.conn);
      } else this.refuse(r.why);
    });
    this.pending.add(id);
  }

  /** Counted now, logged with the others at the next interval. */
  private refuse(why: Refusal): void {
    this.refused.set(why, (this.refused.get(why) ?? 0) + 1);
    this.env.metrics.fleetRefused.inc({ reason: why });
  }

  private logRefusals(): void {
    const since: Record<string, number> = {};
    let any = false;
    for (const [k, v] of this.refused) {
      // Health checks of a load balancer in front: counted, not warned of.
      if (k === "silent") continue;
      const d = v - (this.logged.get(k) ?? 0);
      if (d > 0) {
        since[k] = d;
        any = true;
      }
    }
    if (!any) return;
    this.logged = new Map(this.refused);
    this.env.log.warn(
      { refused: since, interval_ms: REFUSAL_LOG_MS },
      "fleet: connections refused before proving a registered key",
    );
  }

  async stop(): Promise<void> {
    if (this.logTimer) clearInterval(this.logTimer);
    this.logRefusals();
    for (const p of this.pending) p.abandon();
    const server = this.server;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}

type Outcome = { ok: true; device: RegistryDevice; conn: Transport; us: number } | { ok: false; why: Refusal };

/** One connection being identified: the pooled core's HELLO out, the
 *  WELCOME in, its key id looked up, the proof checked. */
class Identify {
  private done = false;
  private bytes = 0;
  private keyed = false;
  private successor?: HandedOver;
  /** The frame being received so far (it ends at a 0x00). */
  private partial: Uint8Array[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly t0 = nowUs();

  constructor(
    private readonly t: TcpTransport,
    private readonly core: QnCore,
    timeoutMs: number,
    private readonly registry: Registry,
    private readonly end: (o: Outcome) => void,
  ) {
    t.onData((b) => this.receive(b));
    t.onClose(() => this.fail(this.bytes ? "closed" : "silent"));
    this.timer = setTimeout(() => this.fail("timeout"), timeoutMs);
    t.write(core.pull()).catch(() => this.fail("closed"));
  }

  abandon(): void {
    this.fail("closed");
  }

  private receive(b: Uint8Array): void {
    // The connection's only reader: once it won, its bytes go to the link.
    if (this.successor) {
      this.successor.push(b);
      return;
    }
    if (this.done) return;
    this.bytes += b.length;
    if (this.bytes > CANDIDATE_BYTES) {
      this.fail("garbage");
      return;
    }
    const core = this.core;
    // Frame by frame: what follows the WELCOME belongs to the link's core.
    let start = 0;
    while (start < b.length && !this.done) {
      const end = b.indexOf(0, start);
      const piece = b.subarray(start, end < 0 ? b.length : end + 1);
      start += piece.length;
      const whole = piece[piece.length - 1] === 0;
      if (!whole) this.partial.push(piece);
      try {
        core.tick(nowUs());
        core.rx(piece);
        if (!this.keyed && this.state() === SessionState.HELLO_SENT && core.peerKeyId() !== 0) {
          // The WELCOME named its key: look it up, then the same WELCOME again.
          const dev = this.registry.lookup(core.peerKeyId());
          if (!dev) {
            this.fail(this.registry.refusal(core.peerKeyId()));
            return;
          }
          core.setKey(dev.key);
          this.keyed = true;
          core.rx(this.partial.length ? Buffer.concat([...this.partial, piece]) : piece);
          if (this.state() === SessionState.UP) {
            this.win(dev, b.subarray(start));
            return;
          }
        }
      } catch {
        this.fail("garbage");
        return;
      }
      if (core.counter(Counter.AUTH_FAIL) > 0) {
        this.fail(this.keyed ? "wrong_key" : "unnamed");
        return;
      }
      if (Number(core.sessionStat(SessionStat.REFUSAL)) < 0) {
        this.fail("refused");
        return;
      }
      if (whole) this.partial = [];
    }
  }

  private state(): number {
    return this.core.sessionState();
  }

  private win(device: RegistryDevice, rest: Uint8Array): void {
    this.done = true;
    clearTimeout(this.timer);
    const conn = new HandedOver(this.t);
    this.successor = conn;
    if (rest.length) conn.push(Uint8Array.from(rest));
    this.end({ ok: true, device, conn, us: Number(nowUs() - this.t0) });
  }

  private fail(why: Refusal): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    void this.t.close().catch(() => {});
    this.end({ ok: false, why });
  }
}
