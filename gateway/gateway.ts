// The gateway: the device links, the MQTT bridge, the spool and the ops API
// under one config. reload() validates a new config completely before it
// touches anything; then it changes only what changed:
//  - a device removed, or its key (file contents), auth mode or transport
//    changed: that link is stopped at once (the connection is closed and
//    its core, which holds the session and its resume token, is dropped),
//    and a new link starts with the new settings. The old session cannot
//    be resumed: the token lived in the dropped core, and the new core
//    proves the new key;
//  - the device's session settings (keys 2..9) changed: pushed to the
//    connected device as one T_CONFIG, applied atomically there; the link
//    stays up;
//  - channel maps: the routing tables are swapped; the link stays up.
// Everything else in the link keeps running: no device waits for another.
import type { Logger } from "pino";
import { createLogger } from "./log.ts";
import { loadConfig, loadConfigAsync, deviceParams, type Config, type DeviceConfig } from "./config.ts";
import { DeviceLink, type LinkEnv } from "./device-link.ts";
import { FleetLinks } from "./fleet-links.ts";
import { Bridge, type DownRoute } from "./bridge.ts";
import { Spool } from "./spool.ts";
import { workerConfig } from "./worker-config.ts";
import { OwnerLock } from "../host/owner-lock.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { OpsServer } from "./ops.ts";
import { localOps } from "./ops-target.ts";
import { OtlpTracing } from "./otel.ts";
import { startSpan, endError, logIds, SPAN, type Span } from "./tracing.ts";
import { parseTraceparent, type TraceContext } from "../host/trace.ts";
import type { SerialBinding } from "../host/transport/serial.ts";

export interface GatewayOptions {
  log?: Logger;
  /** Serial ports through this binding instead of the OS's (tests). */
  serialBinding?: SerialBinding;
  /** This gateway is worker `index` of a multi-process gateway (cluster.ts). */
  worker?: WorkerRole;
}

/** A worker's part in a multi-process gateway: its config is
 *  workerConfig(config, index); a registry device that connected to it is
 *  claimed (every other worker drops its link and journal) before its link
 *  is made here. */
export interface WorkerRole {
  index: number;
  claim(device: string): Promise<void>;
}

export interface ReloadResult {
  ok: boolean;
  errors?: string[];
  started: string[];
  stopped: string[];
  restarted: string[];
  pushed: string[];
  unchanged: string[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class Gateway {
  readonly links = new Map<string, DeviceLink>();
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly spool: Spool;
  private readonly spoolLock: OwnerLock;
  readonly bridge: Bridge;
  ops?: OpsServer;
  /** The OTLP exporter (gateway.tracing.otlp), while it runs. */
  tracing?: OtlpTracing;
  /** The registry devices behind the fleet listener (config fleet:). */
  readonly fleet?: FleetLinks;
  startedAt = Date.now();

  constructor(
    public config: Config,
    public configPath: string | undefined,
    private opts: GatewayOptions = {},
  ) {
    if (opts.worker) this.config = config = workerConfig(config, opts.worker.index);
    this.log = opts.log ?? createLogger({ level: config.gateway.log_level, environment: config.gateway.environment });
    this.metrics = createMetrics(config.gateway.metrics);
    this.metrics.setLinkSource(() => [...this.links.values()].map((l) => l.metricsSample()));
    // One gateway per spool (and its .incoming and .down files beside it).
    this.spoolLock = OwnerLock.take(config.gateway.spool, "spool");
    let spool: Spool | undefined;
    let bridge: Bridge | undefined;
    try {
      spool = new Spool(config.gateway.spool, this.log);
      this.bridge = bridge = new Bridge(config.mqtt, spool, this.log, this.metrics);
      this.spool = spool;
      if (config.fleet)
        this.fleet = new FleetLinks(config.fleet, {
          config,
          links: this.links,
          log: this.log,
          linkEnv: () => this.linkEnv(),
          claim: opts.worker?.claim,
          routesChanged: () => this.routes(),
          dropQueued: (id) =>
            this.dropQueued(
              id,
              this.bridge.down.pendingFor(id).map((e) => e.seq),
            ),
        });
    } catch (e) {
      // A file in the way (not a spool, not a downlink queue): nothing was
      // started, what was opened is closed and the lock goes.
      void bridge?.close().catch(() => {});
      spool?.close();
      this.spoolLock.release();
      throw e;
    }
    this.bridge.on(
      "down",
      (r: DownRoute, payload: Buffer, topic: string, parent: TraceContext | null, seq?: number) => {
        // A registry device's link is made for its first kept command.
        // A worker delivers to the devices connected to it: every worker
        // gets every command, and the others' links and journals are not its own.
        const link = this.links.get(r.device) ?? (this.opts.worker ? undefined : this.fleet?.link(r.device));
        if (link) link.sendDown(r.channel, r.qos, r.prio, payload, topic, parent, seq);
        else if (seq !== undefined && this.opts.worker) this.bridge.down.done(seq);
        else if (seq !== undefined) this.dropQueued(r.device, [seq]);
      },
    );
    // Backpressure instead of loss: a full queue pauses reading from devices.
    this.bridge.on("full", () => {
      for (const l of this.links.values()) l.pause();
    });
    this.bridge.on("room", () => {
      for (const l of this.links.values()) l.resume();
    });
  }

  /** Kept commands of a device that is no longer configured: dropped, said. */
  private dropQueued(device: string, seqs: number[]): void {
    if (!seqs.length) return;
    this.log.warn(
      { device, commands: seqs.length },
      "downlink queue: commands for a device no longer configured dropped",
    );
    for (const s of seqs) this.bridge.down.done(s);
  }

  static fromFile(path: string, opts: GatewayOptions = {}): Gateway {
    return new Gateway(loadConfig(path), path, opts);
  }

  async start(opts: { ops?: boolean } = {}): Promise<void> {
    // Before the first span: every span of the run is exported.
    this.tracing = OtlpTracing.start(this.config.gateway.tracing, this.config.gateway.environment, this.log);
    // Valid but probably not meant (a file cut short, a section forgotten).
    if (this.config.devices.length === 0 && !this.fleet)
      this.log.warn("no devices configured: nothing is bridged until a reload adds some");
    for (const d of this.config.devices) {
      if (d.channels.length === 0)
        this.log.warn(
          { device: d.id },
          "device has no channels: every message it sends is dropped and no command reaches it",
        );
      await this.startLink(d);
    }
    await this.fleet?.start();
    this.routes();
    if (opts.ops !== false) {
      this.ops = new OpsServer(localOps(this));
      await this.ops.start();
    }
    this.log.info({ devices: this.config.devices.length, ops: this.config.gateway.ops.listen }, "gateway started");
  }

  /** `key`: the device's key as the config check read it (reload); read
   *  from its key file when not given (start-up). */
  private linkEnv(): LinkEnv {
    return {
      bridge: this.bridge,
      spool: this.spool,
      log: this.log,
      metrics: this.metrics,
      prefix: this.config.mqtt.topic_prefix,
      tls: this.config.tls,
      serialBinding: this.opts.serialBinding,
    };
  }

  private async startLink(d: DeviceConfig, key = DeviceLink.readKey(d)): Promise<DeviceLink> {
    const link = new DeviceLink(d, key, this.linkEnv());
    this.links.set(d.id, link);
    try {
      await link.start();
    } catch (e) {
      link.lastError = (e as Error).message;
      this.log.error({ device: d.id, err: link.lastError }, "device link failed to start");
    }
    return link;
  }

  private routes(): void {
    const m = new Map<string, DownRoute>();
    for (const d of this.config.devices)
      for (const c of d.channels) {
        if (c.direction === "down")
          m.set(`${this.config.mqtt.topic_prefix}/${d.id}/${c.topic}`, {
            device: d.id,
            channel: c.channel,
            qos: c.qos,
            prio: c.prio,
          });
      }
    this.fleet?.routes(this.config.mqtt.topic_prefix, m);
    this.bridge.setRoutes(m);
  }

  /** Apply the config in `path` (default: the file the gateway started with). */
  async reload(path = this.configPath): Promise<ReloadResult> {
    const span = startSpan(SPAN.RELOAD, { attributes: { "qn.config.file": path ?? "" } });
    try {
      const r = await this.applyReload(path, span);
      span.setAttributes({
        "qn.reload.ok": r.ok,
        "qn.reload.pushed": r.pushed,
        "qn.reload.restarted": r.restarted,
        "qn.reload.started": r.started,
        "qn.reload.stopped": r.stopped,
      });
      if (r.ok) span.end();
      else endError(span, (r.errors ?? []).join("; "));
      return r;
    } catch (e) {
      endError(span, (e as Error).message);
      throw e;
    }
  }

  private async applyReload(path: string | undefined, span: Span): Promise<ReloadResult> {
    const r: ReloadResult = { ok: false, started: [], stopped: [], restarted: [], pushed: [], unchanged: [] };
    const ids = logIds(span);
    let next: Config;
    let keys: Map<string, Uint8Array>;
    try {
      if (!path) throw new Error("no config file to reload");
      // Read without holding the event loop: the links keep running.
      ({ config: next, keys } = await loadConfigAsync(path));
      if (this.opts.worker) next = workerConfig(next, this.opts.worker.index);
    } catch (e) {
      r.errors = (e as { problems?: string[] }).problems ?? [(e as Error).message];
      this.metrics.reloads.inc({ result: "refused" });
      this.log.warn({ file: path, errors: r.errors, ...ids }, "reload refused; the running config stays");
      return r;
    }
    const cur = this.config;
    const problems: string[] = [];
    if (!same(next.fleet, cur.fleet))
      problems.push("fleet: changes to the fleet listener need a restart (devices change live through the registry)");
    if (!same(next.gateway, cur.gateway))
      problems.push("gateway: changes to the gateway section (ops listener, spool, log level) need a restart");
    if (
      next.mqtt.url !== cur.mqtt.url ||
      next.mqtt.topic_prefix !== cur.mqtt.topic_prefix ||
      next.mqtt.client_id !== cur.mqtt.client_id ||
      next.mqtt.protocol_version !== cur.mqtt.protocol_version
    )
      problems.push("mqtt: only mqtt.queue_limit can change without a restart");
    if (problems.length) {
      r.errors = problems;
      this.metrics.reloads.inc({ result: "refused" });
      this.log.warn({ file: path, errors: problems, ...ids }, "reload refused; the running config stays");
      return r;
    }
    this.bridge.setLimit(next.mqtt.queue_limit);
    const tlsChanged = !same(next.tls, cur.tls);
    const byId = new Map(next.devices.map((d) => [d.id, d]));
    // Cut off first: a removed or re-keyed device must not get one more frame.
    for (const [id, link] of [...this.links]) {
      if ("fleet" in link.cfg.transport) continue; // the registry's, not the config's
      const d = byId.get(id);
      const restart =
        d &&
        (!Buffer.from(keys.get(id)!).equals(Buffer.from(link.key)) ||
          d.auth !== link.cfg.auth ||
          !same(d.transport, link.cfg.transport) ||
          d.journal !== link.cfg.journal ||
          (tlsChanged && "tcp" in d.transport && d.transport.tcp.tls));
      if (!d || restart) {
        await link.stop(d ? "key, auth mode, transport or journal changed" : "removed from the config");
        this.links.delete(id);
        (d ? r.restarted : r.stopped).push(id);
        // Its kept commands: to the new link (below), or gone with the device.
        if (!d)
          this.dropQueued(
            id,
            this.bridge.down.pendingFor(id).map((e) => e.seq),
          );
      }
    }
    this.config = next;
    for (const d of next.devices) {
      const link = this.links.get(d.id);
      if (!link) {
        const fresh = await this.startLink(d, keys.get(d.id));
        // A restarted link gets the commands the old one had not handed to its core.
        for (const e of this.bridge.down.pendingFor(d.id))
          fresh.sendDown(e.channel, e.qos, e.prio, e.payload, e.topic, parseTraceparent(e.traceparent), e.seq);
        if (!r.restarted.includes(d.id)) r.started.push(d.id);
        continue;
      }
      const paramsChanged = !same([...deviceParams(d)], [...deviceParams(link.cfg)]);
      link.cfg = d;
      link.setChannels(d);
      if (paramsChanged) {
        r.pushed.push(d.id);
        // Not awaited: a slow device must not hold up the reload of the others.
        if (link.peer?.up) void link.pushConfig(span).catch(() => {});
      } else r.unchanged.push(d.id);
    }
    this.routes();
    r.ok = true;
    this.metrics.reloads.inc({ result: "applied" });
    this.log.info({ file: path, ...r, ...ids }, "config reloaded");
    return r;
  }

  /** A registry device connected to another worker: its link here stops
   *  (and lets go of its journal); true when there was one. */
  async release(id: string): Promise<boolean> {
    const link = this.links.get(id);
    if (!link || !("fleet" in link.cfg.transport)) return false;
    this.links.delete(id);
    await link.stop("the device connected to another worker");
    return true;
  }

  devices() {
    return [...this.links.values()].map((l) => l.status());
  }

  /** Liveness and what needs an operator: `status` is "degraded" (with the
   *  reasons in `problems`) while the broker is unreachable or the queue
   *  to it is nine tenths full; devices down are counted, not a problem
   *  of the gateway's (a fleet always has some). */
  health() {
    const links = [...this.links.values()];
    const problems: string[] = [];
    if (!this.bridge.connected) problems.push("the MQTT broker is not connected");
    if (this.bridge.depth >= 0.9 * this.bridge.limit)
      problems.push(`the queue to the broker holds ${this.bridge.depth} of ${this.bridge.limit}`);
    return {
      status: problems.length ? "degraded" : "ok",
      problems,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      broker: this.bridge.connected ? "connected" : "disconnected",
      queue_depth: this.bridge.depth,
      queue_limit: this.bridge.limit,
      devices: links.length,
      devices_up: links.filter((l) => l.state === "up").length,
    };
  }

  async stop(): Promise<void> {
    await this.ops?.stop();
    await this.fleet?.stop();
    for (const l of this.links.values()) await l.stop("gateway stopping");
    this.links.clear();
    this.fleet?.closePack();
    await this.bridge.close();
    this.spool.close();
    this.spoolLock.release();
    // Last: the spans the stop ended go out too.
    await this.tracing?.shutdown();
    this.tracing = undefined;
    this.log.info("gateway stopped");
  }
}
