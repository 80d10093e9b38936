// What the ops API (ops.ts) serves: one gateway process (localOps), or the
// primary of a multi-process gateway speaking for its workers (cluster.ts).
import type { Config } from "./config.ts";
import type { Gateway, ReloadResult } from "./gateway.ts";
import { registryRoute, type Answer } from "./fleet-ops.ts";
import { liveSelftest, SelftestRequestError } from "./selftest-live.ts";

export type { Answer };

/** A device route: /devices/{id}/{action}. */
export interface DeviceRequest {
  id: string;
  action: "log" | "selftest" | "config";
  method: string;
  only: string | null;
  mode: string | null;
}

export interface OpsTarget {
  readonly config: Config;
  readonly configPath?: string;
  health(): Promise<{ status: string } & Record<string, unknown>>;
  devices(): Promise<unknown[]>;
  metrics(): Promise<{ text: string; type: string }>;
  reload(): Promise<ReloadResult>;
  /** GET or POST /registry; `body` reads the request's body. */
  registry(method: string, body: () => Promise<string>): Promise<Answer>;
  device(r: DeviceRequest): Promise<Answer>;
}

/** A device route on the gateway holding the device's link. */
export async function deviceRoute(gw: Gateway, r: DeviceRequest): Promise<Answer> {
  const link = gw.links.get(r.id);
  if (!link) return { code: 404, body: { error: `no device ${r.id}` } };
  if (!link.peer?.up)
    return {
      code: 503,
      body: { error: `device ${link.id} is not connected (${link.state})`, last_error: link.lastError ?? null },
    };
  try {
    // New records are written to the gateway log by the merge itself.
    if (r.action === "log" && r.method === "GET")
      return { code: 200, body: { device: link.id, events: await link.eventLog() } };
    if (r.action === "config" && r.method === "POST") return { code: 200, body: await link.pushConfig() };
    if (r.action === "selftest" && r.method === "POST")
      return { code: 200, body: await liveSelftest(link, { only: r.only, mode: r.mode }) };
  } catch (e) {
    return { code: e instanceof SelftestRequestError ? 400 : 502, body: { error: (e as Error).message } };
  }
  return undefined;
}

/** The ops API of one gateway process. */
export function localOps(gw: Gateway): OpsTarget {
  return {
    get config() {
      return gw.config;
    },
    get configPath() {
      return gw.configPath;
    },
    health: async () => gw.health(),
    devices: async () => gw.devices(),
    metrics: async () => ({ text: await gw.metrics.registry.metrics(), type: gw.metrics.registry.contentType }),
    reload: () => gw.reload(),
    registry: (method, body) => registryRoute(gw, method, body),
    device: (r) => deviceRoute(gw, r),
  };
}
