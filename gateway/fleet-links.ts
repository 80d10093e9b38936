// The gateway's registry devices: the registry, the fleet listener, and
// the links of the devices that have connected. A device's link is made
// only once a connection proved its key (or a kept command is waiting for
// it): a registry of 10,000 devices costs the entries, not 10,000 links.
//
// Registry changes apply live, one device at a time, and touch nothing
// else: a revocation or removal cuts the device's link at once (and the
// listener refuses it after); a rotated key or key id cuts the link (the
// device must prove the new key); a move to another profile, or a
// profile's change, swaps the channel map and pushes the session settings
// to the connected device without dropping it. A change is applied once
// its record is on disk (appendRecords), so a restart keeps it.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { deviceParams, type Config } from "./config.ts";
import { DeviceLink, type LinkConfig, type LinkEnv } from "./device-link.ts";
import { FleetListener } from "./fleet.ts";
import { JournalPack } from "./journal-pack.ts";
import { Registry, appendRecords, type Change, type Profile, type RegistryDevice } from "./registry.ts";
import type { DownRoute } from "./bridge.ts";
import type { Transport } from "../host/transport/transport.ts";

/** How often the fleet links' up / down edges are swept (one timer for all). */
export const SWEEP_MS = 1000;

export interface FleetHost {
  config: Config;
  links: Map<string, DeviceLink>;
  log: Logger;
  linkEnv(): LinkEnv;
  /** The routing tables changed (a profile, a device added or gone). */
  routesChanged(): void;
  /** Kept commands of a device that is gone: dropped, said. */
  dropQueued(device: string): void;
  /** A multi-process gateway's worker: resolves once no other worker holds
   *  the device's link (and journal). */
  claim?(device: string): Promise<void>;
}

export interface RegistryResult {
  ok: boolean;
  error?: string;
  /** What each record did, in order. */
  applied: string[];
}

/** The fleet's journal pack, in fleet.journals. */
export const PACK_FILE = "journals.pack";

export class FleetLinks {
  registry: Registry;
  /** The devices' journals (fleet.journal_pack), if not in files of their own. */
  readonly pack?: JournalPack;
  readonly listener: FleetListener;
  private sweepTimer?: NodeJS.Timeout;
  /** Registry changes run one at a time, in order. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly cfg: NonNullable<Config["fleet"]>,
    private readonly host: FleetHost,
  ) {
    this.registry = Registry.load(cfg.registry);
    mkdirSync(cfg.journals, { recursive: true, mode: 0o700 });
    // One process's pack: a worker of several keeps files of its own.
    if ((cfg.journal_pack ?? true) && !host.claim) this.pack = new JournalPack(join(cfg.journals, PACK_FILE));
    const env = host.linkEnv();
    this.listener = new FleetListener(cfg, {
      log: host.log,
      metrics: env.metrics,
      tls: host.config.tls,
      registry: () => this.registry,
      admit: (d, conn) => this.admit(d, conn),
    });
  }

  async start(): Promise<void> {
    await this.listener.start();
    this.sweepTimer = setInterval(() => {
      for (const l of this.host.links.values()) if ("fleet" in l.cfg.transport) l.sweep();
    }, SWEEP_MS);
    this.host.log.info(
      { devices: this.registry.devices.size, profiles: this.registry.profiles.size },
      "device registry loaded",
    );
  }

  /** The pack stays open until the links are stopped (closePack). */
  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.listener.stop();
  }

  closePack(): void {
    this.pack?.close();
  }

  /** The link settings of a registry device under its profile. */
  linkConfig(d: RegistryDevice, p: Profile): LinkConfig {
    return {
      id: d.id,
      transport: { fleet: { listen: this.cfg.listen } },
      key_file: this.cfg.registry,
      auth: this.cfg.auth,
      journal: join(this.cfg.journals, `${d.id}.journal`),
      channels: p.channels,
      heartbeat_ms: p.heartbeat_ms,
      heartbeat_misses: p.heartbeat_misses,
      backoff_base_ms: p.backoff_base_ms,
      backoff_cap_ms: p.backoff_cap_ms,
      handshake_ms: p.handshake_ms,
      retransmit_ms: p.retransmit_ms,
      resume_ms: p.resume_ms,
      trace_context: p.trace_context,
      event_poll_ms: p.event_poll_ms,
    };
  }

  /** The link of registry device `id` (made now if it has none); undefined
   *  for a device not in the registry or revoked. */
  link(id: string): DeviceLink | undefined {
    const have = this.host.links.get(id);
    if (have) return have;
    const d = this.registry.devices.get(id);
    if (!d || d.revoked) return undefined;
    const link = new DeviceLink(this.linkConfig(d, this.registry.profiles.get(d.profile)!), d.key, {
      ...this.host.linkEnv(),
      pack: this.pack,
    });
    this.host.links.set(id, link);
    link.start().catch((e: Error) => {
      link.lastError = e.message;
      this.host.log.error({ device: id, err: e.message }, "device link failed to start");
    });
    return link;
  }

  private admit(d: RegistryDevice, conn: Transport): void {
    // Revoked or re-keyed while its handshake ran: the key it proved is no
    // longer the one on record.
    const now = this.registry.lookup(d.keyId);
    if (now !== d) {
      void conn.close();
      return;
    }
    const claim = this.host.claim;
    if (!claim || this.host.links.has(d.id)) {
      this.adoptNow(d, conn);
      return;
    }
    claim(d.id).then(
      () => {
        // Checked again: the registry may have changed while the others let go.
        if (this.registry.lookup(d.keyId) !== d) void conn.close();
        else this.adoptNow(d, conn);
      },
      (e: Error) => {
        this.host.log.error({ device: d.id, err: e.message }, "fleet: the other workers did not let go of the device");
        void conn.close();
      },
    );
  }

  private adoptNow(d: RegistryDevice, conn: Transport): void {
    const link = this.link(d.id);
    if (!link) void conn.close();
    else link.adopt(conn);
  }

  /** Down routes of every registry device (revoked ones have none). */
  routes(prefix: string, into: Map<string, DownRoute>): void {
    for (const d of this.registry.devices.values()) {
      if (d.revoked) continue;
      for (const c of this.registry.profiles.get(d.profile)!.channels)
        if (c.direction === "down")
          into.set(`${prefix}/${d.id}/${c.topic}`, { device: d.id, channel: c.channel, qos: c.qos, prio: c.prio });
    }
  }

  /** Apply registry records live (qnctl, the ops API), in order; stops at
   *  the first one refused, with the reason (the ones before it stay). */
  change(records: unknown[], persist = true): Promise<RegistryResult> {
    const run = this.chain.then(() => this.applyAll(records, persist));
    this.chain = run.catch(() => {});
    return run;
  }

  /** `persist` false: the records are on disk already (a multi-process
   *  gateway's other workers apply what worker 0 wrote). */
  private async applyAll(records: unknown[], persist: boolean): Promise<RegistryResult> {
    const r: RegistryResult = { ok: true, applied: [] };
    for (const rec of records) {
      let c: Change;
      try {
        c = this.registry.check(rec);
      } catch (e) {
        return { ok: false, error: `record ${r.applied.length + 1}: ${(e as Error).message}`, applied: r.applied };
      }
      if (persist) await appendRecords(this.cfg.registry, [rec as object]);
      r.applied.push(await this.apply(c));
    }
    return r;
  }

  private async apply(c: Change): Promise<string> {
    const reg = this.registry;
    if (c.kind === "profile") {
      reg.apply(c);
      let n = 0;
      for (const d of reg.devices.values()) if (d.profile === c.profile.profile && (await this.retune(d))) n++;
      this.host.routesChanged();
      return `profile ${c.profile.profile}: ${n} connected device(s) updated`;
    }
    if (c.kind === "device") {
      const old = reg.devices.get(c.device.id);
      const rekeyed =
        !!old && (old.keyId !== c.device.keyId || !Buffer.from(old.key).equals(Buffer.from(c.device.key)));
      reg.apply(c);
      this.host.routesChanged();
      if (!old) return `device ${c.device.id}: added`;
      if (rekeyed || old.revoked) {
        await this.cut(c.device.id, "its key was rotated", false);
        return `device ${c.device.id}: key ${old.revoked ? "renewed" : "rotated"}, link cut until it proves the new one`;
      }
      await this.retune(c.device);
      return `device ${c.device.id}: profile ${c.device.profile}`;
    }
    reg.apply(c);
    this.host.routesChanged();
    await this.cut(c.id, c.kind === "revoke" ? "revoked" : "removed from the registry", true);
    return `device ${c.id}: ${c.kind === "revoke" ? "revoked" : "removed"}`;
  }

  /** A device's link follows its (new) profile; true when it is connected
   *  and was told new session settings. */
  private async retune(d: RegistryDevice): Promise<boolean> {
    const link = this.host.links.get(d.id);
    if (!link) return false;
    const next = this.linkConfig(d, this.registry.profiles.get(d.profile)!);
    const pushed = JSON.stringify([...deviceParams(next)]) !== JSON.stringify([...deviceParams(link.cfg)]);
    link.cfg = next;
    link.setChannels(next);
    if (pushed && link.peer?.up) void link.pushConfig().catch(() => {});
    return pushed;
  }

  /** Stop the device's link now; `gone`: its kept commands go too. */
  private async cut(id: string, reason: string, gone: boolean): Promise<void> {
    const link = this.host.links.get(id);
    if (link) {
      this.host.links.delete(id);
      await link.stop(reason);
    }
    if (gone) this.host.dropQueued(id);
  }
}
