// A gateway on every core (gateway.workers > 1): this primary process forks
// the workers (cluster-worker.ts), each a whole gateway with its own core
// instances, journals, MQTT connection and spool (worker-config.ts). Their
// fleet listeners share one socket: Node's cluster module accepts in the
// primary and hands each connection to the next worker in turn, so every
// device reaches some worker on the one fleet port. A device's link and
// journal live in one worker at a time: a worker that admits a device
// claims it first, and the primary has every other worker stop its link to
// that device (which closes and unlocks the journal) before the claim
// resolves. A worker that dies is forked again after RESTART_MS; its
// devices reconnect to whichever worker the listener gives them, which
// takes their journals over (the dead worker's locks name a dead pid).
//
// The primary serves the one ops API: /health, /devices, /metrics
// (prom-client's AggregatorRegistry sums the workers' series), /reload and
// registry changes fanned out to every worker, device routes to the worker
// holding the device.
import cluster, { type Worker } from "node:cluster";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { AggregatorRegistry } from "prom-client";
import type { Config } from "./config.ts";
import { loadConfigAsync } from "./config.ts";
import type { ReloadResult } from "./gateway.ts";
import { Rpc, type Channel } from "./ipc.ts";
import { OpsServer } from "./ops.ts";
import type { Answer, DeviceRequest, OpsTarget } from "./ops-target.ts";
import { registryAnswer, registryRecords } from "./fleet-ops.ts";
import type { RegistryResult } from "./fleet-links.ts";
import { workerCount } from "./worker-config.ts";

/** Wait before a worker that died is forked again. */
export const RESTART_MS = 500;
/** Longest wait for a worker to start, and for one to stop before SIGKILL. */
export const WORKER_START_MS = 60_000;
export const WORKER_STOP_MS = 10_000;

interface Slot {
  worker?: Worker;
  rpc?: Rpc;
  ready: boolean;
  restarts: number;
}

export class GatewayCluster implements OpsTarget {
  readonly slots: Slot[];
  ops?: OpsServer;
  private stopping = false;
  /** The last claim of each device still running (claim()). */
  private readonly claims = new Map<string, Promise<void>>();
  private readonly aggregator = new AggregatorRegistry();
  readonly startedAt = Date.now();

  constructor(
    public config: Config,
    readonly configPath: string,
    private readonly log: Logger,
  ) {
    this.slots = Array.from({ length: workerCount(config) }, () => ({ ready: false, restarts: 0 }));
  }

  /** Every worker up (or the first failure), then the ops API. */
  async start(): Promise<void> {
    cluster.setupPrimary({ exec: fileURLToPath(new URL("./cluster-worker.ts", import.meta.url)) });
    await Promise.all(this.slots.map((_, i) => this.fork(i)));
    this.ops = new OpsServer(this);
    await this.ops.start();
    this.log.info({ workers: this.slots.length, ops: this.config.gateway.ops.listen }, "gateway started");
  }

  /** Worker process ids, by worker index (undefined while one is forked again). */
  pids(): (number | undefined)[] {
    return this.slots.map((s) => s.worker?.process.pid);
  }

  private fork(i: number): Promise<void> {
    const slot = this.slots[i];
    const w = cluster.fork({ QN_WORKER_INDEX: String(i), QN_CONFIG: this.configPath });
    slot.worker = w;
    slot.ready = false;
    slot.rpc = new Rpc(w as unknown as Channel, {
      claim: (device) => this.claim(i, device as string),
    });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`worker ${i} did not start in ${WORKER_START_MS} ms`)),
        WORKER_START_MS,
      );
      w.on("message", (m: { qn?: string }) => {
        if (m?.qn !== "ready") return;
        clearTimeout(timer);
        slot.ready = true;
        this.log.info({ worker: i, pid: w.process.pid }, "gateway worker started");
        resolve();
      });
      w.on("exit", (code, signal) => {
        clearTimeout(timer);
        slot.rpc?.closed(`worker ${i} exited`);
        if (slot.worker !== w) return;
        slot.worker = undefined;
        slot.rpc = undefined;
        if (!slot.ready) reject(new Error(`worker ${i} exited (${signal ?? code}) before it started`));
        slot.ready = false;
        if (this.stopping) return;
        slot.restarts++;
        this.log.error({ worker: i, code, signal }, "gateway worker died: forked again");
        setTimeout(() => {
          if (!this.stopping)
            this.fork(i).catch((e: Error) => this.log.error({ worker: i, err: e.message }, "worker restart failed"));
        }, RESTART_MS);
      });
    });
  }

  /** Worker `from` admitted `device`: every other worker lets go of it.
   *  Claims of one device run one after the other: the answer to one goes
   *  out before the next one's release requests, on the same ordered
   *  channels, so the worker that won makes its link before it is asked to
   *  let go again, and two workers never open the journal together. */
  private claim(from: number, device: string): Promise<void> {
    const run = (this.claims.get(device) ?? Promise.resolve()).then(async () => {
      await Promise.all(
        this.slots.map((s, i) => (i !== from && s.ready && s.rpc ? s.rpc.ask("release", device) : undefined)),
      );
    });
    const tail = run.catch(() => {});
    this.claims.set(device, tail);
    void tail.then(() => {
      if (this.claims.get(device) === tail) this.claims.delete(device);
    });
    return run;
  }

  /** Ask every worker that is up; each answer with its worker's index. */
  private async all<T>(op: string, ...args: unknown[]): Promise<{ worker: number; value: T }[]> {
    const live = this.slots.map((s, i) => ({ s, i })).filter(({ s }) => s.ready && s.rpc);
    return Promise.all(live.map(async ({ s, i }) => ({ worker: i, value: await s.rpc!.ask<T>(op, ...args) })));
  }

  async health() {
    const hs = await this.all<Record<string, unknown> & { problems: string[] }>("health");
    const problems: string[] = [];
    this.slots.forEach((s, i) => {
      if (!s.ready) problems.push(`worker ${i} is not running`);
    });
    const sum = (k: string) => hs.reduce((a, h) => a + Number(h.value[k] ?? 0), 0);
    for (const h of hs) for (const p of h.value.problems) problems.push(`worker ${h.worker}: ${p}`);
    return {
      status: problems.length ? "degraded" : "ok",
      problems,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      broker: hs.length && hs.every((h) => h.value.broker === "connected") ? "connected" : "disconnected",
      queue_depth: sum("queue_depth"),
      queue_limit: sum("queue_limit"),
      devices: sum("devices"),
      devices_up: sum("devices_up"),
      workers: this.slots.map((s, i) => ({
        worker: i,
        pid: s.worker?.process.pid ?? null,
        up: s.ready,
        restarts: s.restarts,
      })),
    };
  }

  async devices(): Promise<unknown[]> {
    const per = await this.all<Record<string, unknown>[]>("devices");
    return per.flatMap((p) => p.value.map((d) => ({ ...d, worker: p.worker })));
  }

  async metrics() {
    return { text: await this.aggregator.clusterMetrics(), type: this.aggregator.contentType };
  }

  async reload(): Promise<ReloadResult> {
    const rs = await this.all<ReloadResult>("reload");
    const r: ReloadResult = {
      ok: rs.every((x) => x.value.ok),
      started: [],
      stopped: [],
      restarted: [],
      pushed: [],
      unchanged: [],
    };
    for (const { value } of rs) {
      for (const k of ["started", "stopped", "restarted", "pushed", "unchanged"] as const) r[k].push(...value[k]);
      if (value.errors && !r.errors) r.errors = value.errors;
    }
    if (r.ok) this.config = (await loadConfigAsync(this.configPath)).config;
    return r;
  }

  async registry(method: string, body: () => Promise<string>): Promise<Answer> {
    if (!this.config.fleet)
      return { code: 404, body: { error: "no fleet listener configured (config section fleet:)" } };
    if (method === "GET") {
      const per = await this.all<Answer>("registry", "GET", "");
      const first = per.find((p) => p.worker === 0) ?? per[0];
      if (!first?.value) return { code: 503, body: { error: "no worker is running" } };
      const rows = first.value.body as { id: string; state: string }[];
      // The state from the worker holding the device.
      const held = new Map<string, string>();
      for (const p of per)
        for (const d of (p.value?.body ?? []) as { id: string; state: string }[])
          if (d.state !== "never connected") held.set(d.id, d.state);
      return { code: 200, body: rows.map((d) => ({ ...d, state: held.get(d.id) ?? d.state })) };
    }
    if (method !== "POST") return undefined;
    const records = await registryRecords(body);
    if (!Array.isArray(records)) return records;
    // Worker 0 checks and writes the records; the others apply what it applied.
    const w0 = this.slots[0];
    if (!w0.ready || !w0.rpc) return { code: 503, body: { error: "worker 0 is not running: try again" } };
    const r = await w0.rpc.ask<RegistryResult>("registryChange", records, true);
    const done = records.slice(0, r.applied.length);
    const others = await Promise.all(
      this.slots.map(async (s, i) =>
        i > 0 && s.ready && s.rpc && done.length
          ? { worker: i, applied: (await s.rpc.ask<RegistryResult>("registryChange", done, false)).applied }
          : undefined,
      ),
    );
    // `applied` says what worker 0 did with each record; `workers`, every worker's.
    const answer = registryAnswer(r)!;
    return {
      ...answer,
      body: { ...r, workers: [{ worker: 0, applied: r.applied }, ...others.filter((o) => o !== undefined)] },
    };
  }

  async device(r: DeviceRequest): Promise<Answer> {
    const per = await this.all<Answer>("device", r);
    return (
      per.find((p) => p.value && p.value.code !== 404)?.value ?? { code: 404, body: { error: `no device ${r.id}` } }
    );
  }

  /** The ops API, then every worker (SIGKILL after WORKER_STOP_MS). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.ops?.stop();
    await Promise.all(
      this.slots.map(async (s) => {
        const w = s.worker;
        if (!w || w.isDead()) return;
        const exited = new Promise<void>((r) => w.once("exit", () => r()));
        s.rpc?.ask("stop").catch(() => {});
        const t = setTimeout(() => w.process.kill("SIGKILL"), WORKER_STOP_MS);
        await exited;
        clearTimeout(t);
      }),
    );
    this.log.info("gateway stopped");
  }
}
