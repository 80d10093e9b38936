// The ops API's registry routes (qnctl device ...):
//   GET  /registry          every registry device: id, key id, profile, revoked, link state
//   POST /registry          {"records": [...]}: registry records (registry.ts) applied live, in order
// Keys are never sent back.
import type { IncomingMessage } from "node:http";
import type { Gateway } from "./gateway.ts";
import type { RegistryResult } from "./fleet-links.ts";

/** Most bytes of a POST /registry body: a few hundred records. */
export const MAX_REGISTRY_BODY = 256 * 1024;

export type Answer = { code: number; body: unknown } | undefined;

export async function readBody(req: IncomingMessage): Promise<string> {
  let n = 0;
  const parts: Buffer[] = [];
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > MAX_REGISTRY_BODY) throw new Error(`request body over ${MAX_REGISTRY_BODY} bytes`);
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts).toString("utf8");
}

/** The records of a POST /registry body; an answer (400) when it has none. */
export async function registryRecords(body: () => Promise<string>): Promise<unknown[] | Answer> {
  let records: unknown;
  try {
    records = (JSON.parse(await body()) as { records?: unknown }).records;
  } catch (e) {
    return { code: 400, body: { error: `expected {"records": [...]}: ${(e as Error).message}` } };
  }
  if (!Array.isArray(records)) return { code: 400, body: { error: 'expected {"records": [...]}' } };
  return records;
}

/** The answer of a registry change. */
export const registryAnswer = (r: RegistryResult): Answer => ({ code: r.ok ? 200 : 422, body: r });

/** The answer to a registry route (GET or POST /registry). */
export async function registryRoute(gw: Gateway, method: string, body: () => Promise<string>): Promise<Answer> {
  const fleet = gw.fleet;
  if (!fleet) return { code: 404, body: { error: "no fleet listener configured (config section fleet:)" } };
  if (method === "GET")
    return {
      code: 200,
      body: [...fleet.registry.devices.values()].map((d) => ({
        id: d.id,
        key_id: d.keyId,
        profile: d.profile,
        revoked: d.revoked,
        state: gw.links.get(d.id)?.state ?? "never connected",
      })),
    };
  if (method !== "POST") return undefined;
  const records = await registryRecords(body);
  if (!Array.isArray(records)) return records;
  return registryAnswer(await fleet.change(records));
}
