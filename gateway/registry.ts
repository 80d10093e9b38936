// The device registry: who may connect to the gateway's fleet listener,
// under which key, with which profile. It is kept apart from the gateway's
// settings (the YAML) because it is data, not configuration: thousands of
// entries, changed one at a time while the gateway runs.
//
// The file is JSON Lines, append-only: each line is one record, and a later
// line changes what an earlier one said.
//   {"profile":"sensors","heartbeat_ms":30000,"channels":[...]}  a profile (new or replaced)
//   {"device":"s-1","key_id":17,"key":"<hex>","profile":"sensors"}       a device added, its key
//                                                                        rotated, or moved to a profile
//   {"device":"s-1","revoke":true}                                       revoked: cut off, refused after
//   {"device":"s-1","remove":true}                                       forgotten
// A live change is then one appended, fsync'd line (never a rewrite of
// 10,000 entries), loading is one linear pass, and a revocation stays on
// record. The file holds keys: it is made 0600, as key files are.
//
// Profiles hold what many devices share: the channel map and the session
// settings a device is told (heartbeat, retransmission...). The auth mode
// is the fleet listener's (fleet.auth): its HELLO goes out before it knows
// which device answers.
import { appendFile, open } from "node:fs/promises";
import { z } from "zod";
import { readBoundedSync, type ReadLimit } from "../host/bounded-read.ts";
import { channel, sessionFields, uint } from "./config.ts";

/** Most bytes of a registry file: about 200,000 device lines. */
export const MAX_REGISTRY_BYTES = 64 * 1024 * 1024;
/** Most bytes of one record. */
export const MAX_RECORD_BYTES = 16 * 1024;
/** Problems listed when a registry is refused; the rest are counted. */
const MAX_PROBLEMS = 50;
const LIMIT: ReadLimit = { max: MAX_REGISTRY_BYTES, what: "registry file" };

const deviceId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "expected 1-64 letters, digits, '_' or '-' (it is part of MQTT topics)");
const profileName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "expected 1-64 letters, digits, '_' or '-'");

const profileRecord = z
  .object({
    profile: profileName,
    channels: z.array(channel).default([]),
    ...sessionFields,
    trace_context: z.boolean().default(true),
    event_poll_ms: uint(86400000).default(0),
  })
  .strict();

const deviceRecord = z
  .object({
    device: deviceId,
    /** The id the device names its key with in the handshake (1..2^32-1). */
    key_id: uint().min(1, "expected a key id >= 1"),
    key: z.string().regex(/^([0-9a-fA-F]{2}){1,32}$/, "expected 1 to 32 bytes in hex"),
    profile: profileName,
  })
  .strict();

const revokeRecord = z.object({ device: deviceId, revoke: z.literal(true) }).strict();
const removeRecord = z.object({ device: deviceId, remove: z.literal(true) }).strict();

export type Profile = z.infer<typeof profileRecord>;

export interface RegistryDevice {
  id: string;
  keyId: number;
  key: Uint8Array;
  profile: string;
  revoked: boolean;
}

/** One record, checked against the registry as it is. */
export type Change =
  | { kind: "profile"; profile: Profile }
  | { kind: "device"; device: RegistryDevice }
  | { kind: "revoke"; id: string }
  | { kind: "remove"; id: string };

export class RegistryError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    const shown =
      problems.length > MAX_PROBLEMS
        ? [...problems.slice(0, MAX_PROBLEMS), `... and ${problems.length - MAX_PROBLEMS} more problems`]
        : problems;
    super(`invalid registry ${file}:\n  ${shown.join("\n  ")}`);
    this.name = "RegistryError";
  }
}

function firstIssue(e: z.ZodError): string {
  const i = e.issues[0];
  const at = i.path.join(".");
  return i.code === "unrecognized_keys"
    ? `unknown key(s) ${i.keys.map((k) => JSON.stringify(k.slice(0, 32))).join(", ")}`
    : `${at ? `${at}: ` : ""}${i.message}`;
}

export class Registry {
  readonly profiles = new Map<string, Profile>();
  readonly devices = new Map<string, RegistryDevice>();
  private readonly byKeyId = new Map<number, RegistryDevice>();

  /** The registry in `text`; every bad line is listed, and none applies. */
  static parse(text: string, file = "<registry>"): Registry {
    const r = new Registry();
    const problems: string[] = [];
    let lineNo = 0;
    for (const line of text.split("\n")) {
      lineNo++;
      const t = line.trim();
      if (!t || t.startsWith("#")) continue;
      try {
        r.apply(r.check(Registry.decode(t)));
      } catch (e) {
        problems.push(`line ${lineNo}: ${(e as Error).message}`);
      }
    }
    if (problems.length) throw new RegistryError(file, problems);
    return r;
  }

  static load(file: string): Registry {
    let text: string;
    try {
      text = readBoundedSync(file, LIMIT).data.toString("utf8");
    } catch (e) {
      throw new RegistryError(file, [`cannot read the file: ${(e as Error).message}`]);
    }
    return Registry.parse(text, file);
  }

  /** A record's JSON text, bounded; throws with what is wrong (never the text). */
  static decode(text: string): unknown {
    if (text.length > MAX_RECORD_BYTES) throw new Error(`record of ${text.length} bytes (at most ${MAX_RECORD_BYTES})`);
    try {
      return JSON.parse(text);
    } catch {
      throw new Error("not a JSON object");
    }
  }

  /** What `rec` would change; throws with why it cannot apply. */
  check(rec: unknown): Change {
    if (typeof rec !== "object" || rec === null || Array.isArray(rec)) throw new Error("not a JSON object");
    const o = rec as Record<string, unknown>;
    if ("profile" in o && !("device" in o)) {
      const p = profileRecord.safeParse(o);
      if (!p.success) throw new Error(`profile: ${firstIssue(p.error)}`);
      const ups = new Set<number>(),
        downs = new Set<string>();
      for (const c of p.data.channels) {
        const dup = c.direction === "up" ? ups.has(c.channel) : downs.has(c.topic);
        if (dup) throw new Error(`profile ${p.data.profile}: ${c.direction}link ${c.channel}/${c.topic} mapped twice`);
        if (c.direction === "up") ups.add(c.channel);
        else downs.add(c.topic);
      }
      return { kind: "profile", profile: p.data };
    }
    if ("revoke" in o || "remove" in o) {
      const p = ("revoke" in o ? revokeRecord : removeRecord).safeParse(o);
      if (!p.success) throw new Error(firstIssue(p.error));
      if (!this.devices.has(p.data.device)) throw new Error(`no device "${p.data.device}"`);
      return "revoke" in o ? { kind: "revoke", id: p.data.device } : { kind: "remove", id: p.data.device };
    }
    const p = deviceRecord.safeParse(o);
    if (!p.success) throw new Error(`device: ${firstIssue(p.error)}`);
    const d = p.data;
    if (!this.profiles.has(d.profile)) throw new Error(`device ${d.device}: no profile "${d.profile}"`);
    const holder = this.byKeyId.get(d.key_id);
    if (holder && holder.id !== d.device) throw new Error(`device ${d.device}: key id ${d.key_id} is ${holder.id}'s`);
    return {
      kind: "device",
      device: {
        id: d.device,
        keyId: d.key_id,
        key: Uint8Array.from(Buffer.from(d.key, "hex")),
        profile: d.profile,
        revoked: false,
      },
    };
  }

  apply(c: Change): void {
    if (c.kind === "profile") {
      this.profiles.set(c.profile.profile, c.profile);
      return;
    }
    if (c.kind === "device") {
      const old = this.devices.get(c.device.id);
      if (old) this.byKeyId.delete(old.keyId);
      this.devices.set(c.device.id, c.device);
      this.byKeyId.set(c.device.keyId, c.device);
      return;
    }
    const d = this.devices.get(c.id);
    if (!d) return;
    if (c.kind === "revoke") d.revoked = true;
    else {
      this.devices.delete(c.id);
      this.byKeyId.delete(d.keyId);
    }
  }

  /** The device whose key has id `keyId`, unless revoked. */
  lookup(keyId: number): RegistryDevice | undefined {
    const d = this.byKeyId.get(keyId);
    return d && !d.revoked ? d : undefined;
  }

  /** Why `keyId` gets no key: "unknown" or "revoked". */
  refusal(keyId: number): "unknown" | "revoked" {
    return this.byKeyId.get(keyId)?.revoked ? "revoked" : "unknown";
  }
}

/** Append records to the registry file and make them durable (a change is
 *  applied only once it is on disk, so a restart keeps it). */
/** Registry records as the file holds them: one JSON line each. */
export const registryText = (recs: object[]): string => recs.map((r) => `${JSON.stringify(r)}\n`).join("");

export async function appendRecords(file: string, recs: object[]): Promise<void> {
  await appendFile(file, registryText(recs), { mode: 0o600 });
  const fh = await open(file, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
