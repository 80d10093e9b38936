// The gateway's configuration: one YAML file, validated with zod. Every
// problem is reported as `<key path>: <what is wrong>` (e.g.
// `devices[1].transport.tcp.listen: expected "host:port"`), all at once, so
// a bad file is fixed in one pass. Unknown keys are errors too: a misspelt
// key silently ignored is a default silently used.
//
// What a config may cost is bounded before it is parsed: its size
// (MAX_CONFIG_BYTES, read with host/bounded-read.ts), its YAML tokens
// (config-text.ts) and its devices (MAX_DEVICES, before the schema looks at
// each one). The files it names are read bounded too, and must be what
// they are named as (file-checks.ts). Problems never quote the file's
// contents beyond key names that look like config keys (config-text.ts).
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { AuthMode, ConfigKey, Prio, Qos } from "../host/abi.ts";
import { readBoundedSync, readBounded, type ReadLimit } from "../host/bounded-read.ts";
import { checkFilesSync, checkFiles, type FileFindings } from "./file-checks.ts";
import { readYaml, shownKey, TextProblem } from "./config-text.ts";
import { metricsSchema, tracingSchema } from "./config-ops.ts";

export { MAX_YAML_TOKENS } from "./config-text.ts";

/** Most bytes of a config file: a thousand devices take about a third. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Most devices one gateway serves (each has its own listener, core and
 *  journal). */
export const MAX_DEVICES = 1024;
/** Problems listed in one refusal; the rest are counted. */
const MAX_PROBLEMS = 50;
const CONFIG_LIMIT: ReadLimit = { max: MAX_CONFIG_BYTES, what: "config file" };

const hostPort = z.string().regex(/^[A-Za-z0-9.\-:[\]]+:\d{1,5}$/, 'expected "host:port"');
/** The port of a "host:port" the regex took, if it is not one a socket can
 *  listen on (the regex allows five digits: 99999 passed, and the link
 *  then failed at start-up instead of the file being refused). */
function badPort(hp: string): string | undefined {
  const port = Number(hp.slice(hp.lastIndexOf(":") + 1));
  return port >= 1 && port <= 65535 ? undefined : `port ${port} out of range: expected 1-65535`;
}
const loopback = hostPort
  .superRefine((s, ctx) => {
    const p = badPort(s);
    if (p) ctx.addIssue({ code: z.ZodIssueCode.custom, message: p });
  })
  .refine(
    (s) => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+$/.test(s),
    "the ops API listens on loopback only (127.0.0.1:<port>)",
  );
export const uint = (max = 0xffffffff) =>
  z.number().int("expected an integer").min(0, "expected a value >= 0").max(max, `expected a value <= ${max}`);

export const channel = z
  .object({
    channel: uint(255),
    /** Topic under <prefix>/<device id>/ (no leading slash, no wildcards). */
    topic: z
      .string()
      .min(1)
      .regex(/^[^#+/][^#+]*$/, "expected a topic without wildcards or a leading '/'"),
    qos: z.union([z.literal(Qos.AT_MOST_ONCE), z.literal(Qos.AT_LEAST_ONCE), z.literal(Qos.EXACTLY_ONCE)], {
      errorMap: () => ({ message: "expected 0, 1 or 2" }),
    }),
    direction: z.enum(["up", "down"]),
    /** Priority class of downlink frames: 0 emergency, 1 control, 2 bulk. */
    prio: z
      .union([z.literal(Prio.EMERGENCY), z.literal(Prio.CONTROL), z.literal(Prio.BULK)], {
        errorMap: () => ({ message: "expected 0 (emergency), 1 (control) or 2 (bulk)" }),
      })
      .default(Prio.BULK),
  })
  .strict();

/** The session settings a device (config.ts) or a profile of the fleet
 *  registry (registry.ts) may set; unset, the core's defaults hold. */
export const sessionFields = {
  heartbeat_ms: uint(600000).optional(),
  heartbeat_misses: uint(255).optional(),
  backoff_base_ms: uint(600000).optional(),
  backoff_cap_ms: uint(600000).optional(),
  handshake_ms: uint(600000).optional(),
  retransmit_ms: uint(600000).optional(),
  resume_ms: uint(3600000).optional(),
};

const transport = z.union(
  [
    z
      .object({
        serial: z
          .object({
            path: z.string().min(1),
            baud: uint(16_000_000).min(1, "expected a baud rate >= 1").default(921600),
          })
          .strict(),
      })
      .strict(),
    z
      .object({
        tcp: z
          .object({
            listen: hostPort,
            tls: z.boolean().default(false),
            /** With tls: the client certificate must name this device (subject CN
             *  or a DNS SAN), so one device's certificate cannot take another's link. */
            peer_name: z.string().min(1).optional(),
          })
          .strict(),
      })
      .strict(),
  ],
  {
    errorMap: () => ({
      message: 'expected { serial: { path, baud } } or { tcp: { listen: "host:port", tls, peer_name } }',
    }),
  },
);

/** The session settings of a device: sent to it as T_CONFIG (config keys
 *  2..9) and used by the gateway's own end of the link. */
export const DEVICE_PARAMS = {
  heartbeat_ms: ConfigKey.HEARTBEAT_MS,
  heartbeat_misses: ConfigKey.HEARTBEAT_MISS,
  backoff_base_ms: ConfigKey.BACKOFF_BASE_MS,
  backoff_cap_ms: ConfigKey.BACKOFF_CAP_MS,
  handshake_ms: ConfigKey.HANDSHAKE_MS,
  retransmit_ms: ConfigKey.RETX_MS,
  resume_ms: ConfigKey.RESUME_MS,
  node_id: ConfigKey.NODE,
} as const;

const device = z
  .object({
    id: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, "expected 1-64 letters, digits, '_' or '-' (it is part of MQTT topics)"),
    transport,
    key_file: z.string().min(1),
    auth: z
      .union([z.literal(AuthMode.NONE), z.literal(AuthMode.HANDSHAKE), z.literal(AuthMode.FRAME_MAC)], {
        errorMap: () => ({ message: "expected 0 (none), 1 (handshake) or 2 (handshake + frame MAC)" }),
      })
      .default(AuthMode.FRAME_MAC),
    journal: z.string().min(1),
    channels: z.array(channel).default([]),
    ...sessionFields,
    node_id: uint(1023).optional(),
    /** Commands go to the device with a W3C trace context ahead of the
     *  payload (frame flag TRACE); false for device software that does not
     *  read the flag. */
    trace_context: z.boolean().default(true),
    /** How often the device's event log is fetched and merged into ours,
     *  besides at link up and after a config push; 0: only then. */
    event_poll_ms: uint(86400000).default(10000),
  })
  .strict();

export const schema = z
  .object({
    gateway: z
      .object({
        ops: z
          .object({
            listen: loopback.default("127.0.0.1:8848"),
            /** The bearer token qnctl sends; created 0600 if missing. */
            token_file: z.string().default("var/ops.token"),
          })
          .strict()
          .default({}),
        /** Where the MQTT spool lives (append-only, fsync'd); with workers
         *  each worker has its own, "<spool>.w<N>". */
        spool: z.string().default("var/mqtt.spool"),
        /** Processes serving the devices (cluster.ts): 1 is one process,
         *  "auto" one per core (os.availableParallelism()). */
        workers: z
          .union([uint(256).min(1, "expected a value >= 1"), z.literal("auto")], {
            errorMap: () => ({ message: 'expected a number of worker processes (1 to 256) or "auto"' }),
          })
          .default(1),
        log_level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
        /** The `environment` field of every log line and span resource
         *  (deployment.environment), e.g. "production". */
        environment: z.string().min(1).default("production"),
        metrics: metricsSchema,
        tracing: tracingSchema,
      })
      .strict()
      .default({}),
    mqtt: z
      .object({
        url: z.string().regex(/^(mqtts?|tcp|ssl|wss?):\/\/.+/, 'expected a broker URL such as "mqtt://127.0.0.1:1883"'),
        topic_prefix: z
          .string()
          .regex(/^[^#+]+$/, "expected a topic prefix without wildcards")
          .default("qn"),
        queue_limit: uint().min(1, "expected a value >= 1").default(10000),
        client_id: z.string().optional(),
        /** MQTT v5 lets the bridge carry a W3C traceparent as a user property. */
        protocol_version: z
          .union([z.literal(4), z.literal(5)], {
            errorMap: () => ({ message: "expected 4 (MQTT 3.1.1) or 5 (MQTT 5)" }),
          })
          .default(5),
      })
      .strict(),
    tls: z
      .object({
        cert: z.string(),
        key: z.string(),
        ca: z.string(),
        /** A certificate revocation list from the CA (PEM): a client
         *  certificate on it is refused in the TLS handshake. */
        crl: z.string().optional(),
        require_client_cert: z.boolean().default(true),
      })
      .strict()
      .optional(),
    /** One listener for every device of the registry (fleet.ts). */
    fleet: z
      .object({
        listen: hostPort,
        tls: z.boolean().default(false),
        /** Every fleet device's auth mode (1 or 2: a fleet device proves its key). */
        auth: z
          .union([z.literal(AuthMode.HANDSHAKE), z.literal(AuthMode.FRAME_MAC)], {
            errorMap: () => ({ message: "expected 1 (handshake) or 2 (handshake + frame MAC)" }),
          })
          .default(AuthMode.FRAME_MAC),
        /** The registry of devices (registry.ts): ids, key ids, keys, profiles. */
        registry: z.string().min(1),
        /** Where each registry device's journal is made, on its first session. */
        journals: z.string().min(1),
        /** Every device's journal in one file, <journals>/journals.pack
         *  (journal-pack.ts): one fdatasync per flush round for all of
         *  them. Default: on with one worker; with workers each device has
         *  a file of its own (its journal goes with it to another worker). */
        journal_pack: z.boolean().optional(),
        /** Handshakes proved at once; a connection past them is closed at once. */
        handshake_pool: uint(4096).min(1, "expected a value >= 1").default(64),
        /** Time a connection has to prove its key, ms. */
        handshake_ms: uint(600000).min(1, "expected a value >= 1").default(5000),
      })
      .strict()
      .optional(),
    devices: z.array(device).default([]),
  })
  .strict();

export type Config = z.infer<typeof schema>;
export type DeviceConfig = Config["devices"][number];
export type ChannelConfig = DeviceConfig["channels"][number];

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(
    readonly file: string,
    problems: string[],
  ) {
    const shown =
      problems.length > MAX_PROBLEMS
        ? [...problems.slice(0, MAX_PROBLEMS), `... and ${problems.length - MAX_PROBLEMS} more problems`]
        : problems;
    super(`invalid config ${file}:\n  ${shown.join("\n  ")}`);
    this.problems = shown;
    this.name = "ConfigError";
  }
}

function keyPath(path: (string | number)[]): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s ? `.${p}` : p;
  return s || "(top level)";
}

/** Cross-field rules zod's shapes do not express. */
function crossCheck(c: Config, baseDir: string, problems: string[]): void {
  const seen = (what: string, get: (d: DeviceConfig) => string | undefined) => {
    const m = new Map<string, number>();
    c.devices.forEach((d, i) => {
      const v = get(d);
      if (v === undefined) return;
      if (m.has(v)) problems.push(`devices[${i}].${what}: "${v}" already used by devices[${m.get(v)}]`);
      else m.set(v, i);
    });
  };
  seen("id", (d) => d.id);
  seen("journal", (d) => resolve(baseDir, d.journal));
  seen("transport.tcp.listen", (d) => ("tcp" in d.transport ? d.transport.tcp.listen : undefined));
  seen("transport.serial.path", (d) => ("serial" in d.transport ? d.transport.serial.path : undefined));
  if (c.fleet) {
    const p = badPort(c.fleet.listen);
    if (p) problems.push(`fleet.listen: ${p}`);
    if (c.fleet.tls && !c.tls) problems.push("fleet.tls: true needs a top-level tls section (cert, key, ca)");
    if (c.fleet.journal_pack && c.gateway.workers !== 1)
      problems.push(
        "fleet.journal_pack: true needs gateway.workers: 1 (with workers, a device's journal is a file of its own that goes with it to another worker)",
      );
    c.devices.forEach((d, i) => {
      if ("tcp" in d.transport && d.transport.tcp.listen === c.fleet!.listen)
        problems.push(`devices[${i}].transport.tcp.listen: "${d.transport.tcp.listen}" is the fleet listener`);
    });
  }
  c.devices.forEach((d, i) => {
    const port = "tcp" in d.transport ? badPort(d.transport.tcp.listen) : undefined;
    if (port) problems.push(`devices[${i}].transport.tcp.listen: ${port}`);
    if ("tcp" in d.transport && d.transport.tcp.tls && !c.tls)
      problems.push(`devices[${i}].transport.tcp.tls: true needs a top-level tls section (cert, key, ca)`);
    if (
      "tcp" in d.transport &&
      d.transport.tcp.peer_name !== undefined &&
      (!d.transport.tcp.tls || c.tls?.require_client_cert === false)
    )
      problems.push(
        `devices[${i}].transport.tcp.peer_name: needs tls: true and tls.require_client_cert: true (it names the client certificate)`,
      );
    if (d.backoff_base_ms !== undefined && d.backoff_cap_ms !== undefined && d.backoff_base_ms > d.backoff_cap_ms)
      problems.push(
        `devices[${i}].backoff_base_ms: ${d.backoff_base_ms} is above backoff_cap_ms (${d.backoff_cap_ms})`,
      );
    const ups = new Set<number>(),
      downs = new Set<string>();
    d.channels.forEach((ch, j) => {
      if (ch.direction === "up") {
        if (ups.has(ch.channel))
          problems.push(`devices[${i}].channels[${j}].channel: uplink channel ${ch.channel} mapped twice`);
        ups.add(ch.channel);
      } else {
        if (downs.has(ch.topic))
          problems.push(`devices[${i}].channels[${j}].topic: downlink topic "${ch.topic}" mapped twice`);
        downs.add(ch.topic);
      }
    });
  });
}

/** Parse and validate config text, without reading the files it names;
 *  relative paths resolve against baseDir. */
function parseText(text: string, file: string, baseDir: string): Config {
  let raw: unknown;
  try {
    raw = readYaml(text);
  } catch (e) {
    if (e instanceof TextProblem) throw new ConfigError(file, [e.message]);
    throw e;
  }
  const devices = (raw as { devices?: unknown } | null)?.devices;
  if (Array.isArray(devices) && devices.length > MAX_DEVICES)
    throw new ConfigError(file, [
      `devices: ${devices.length} devices; one gateway serves at most ${MAX_DEVICES} (share them out over more gateways on the same broker)`,
    ]);
  const r = schema.safeParse(raw ?? {});
  if (!r.success)
    throw new ConfigError(
      file,
      r.error.issues.map((i) => {
        // zod's own words for an enum quote the value it got: said without it.
        const extra =
          i.code === "unrecognized_keys"
            ? `unknown key(s) ${i.keys.map(shownKey).join(", ")}`
            : i.code === "invalid_enum_value"
              ? `expected ${i.options.map((o) => `"${String(o)}"`).join(", ")}`
              : i.message;
        return `${keyPath(i.path)}: ${extra}`;
      }),
    );
  const problems: string[] = [];
  crossCheck(r.data, baseDir, problems);
  if (problems.length) throw new ConfigError(file, problems);
  // Paths in the file are relative to the file, not to the gateway's cwd.
  const c = r.data;
  const abs = (p: string) => resolve(baseDir, p);
  c.gateway.spool = abs(c.gateway.spool);
  c.gateway.ops.token_file = abs(c.gateway.ops.token_file);
  if (c.fleet) c.fleet = { ...c.fleet, registry: abs(c.fleet.registry), journals: abs(c.fleet.journals) };
  if (c.tls)
    c.tls = {
      ...c.tls,
      cert: abs(c.tls.cert),
      key: abs(c.tls.key),
      ca: abs(c.tls.ca),
      ...(c.tls.crl ? { crl: abs(c.tls.crl) } : {}),
    };
  for (const d of c.devices) {
    d.key_file = abs(d.key_file);
    d.journal = abs(d.journal);
  }
  return c;
}

/** Parse and validate config text, and check the files it names (read
 *  bounded, on the spot: start-up); relative paths resolve against baseDir. */
export function parseConfig(text: string, file = "<config>", baseDir = "."): Config {
  const c = parseText(text, file, baseDir);
  const f = checkFilesSync(c);
  if (f.problems.length) throw new ConfigError(file, f.problems);
  return c;
}

export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readBoundedSync(file, CONFIG_LIMIT).data.toString("utf8");
  } catch (e) {
    throw new ConfigError(file, [`cannot read the file: ${(e as Error).message}`]);
  }
  return parseConfig(text, file, dirname(resolve(file)));
}

/** loadConfig without blocking the event loop on a file (reload): the
 *  config, and the device keys its key files hold. */
export async function loadConfigAsync(file: string): Promise<{ config: Config; keys: FileFindings["keys"] }> {
  let text: string;
  try {
    text = (await readBounded(file, CONFIG_LIMIT)).data.toString("utf8");
  } catch (e) {
    throw new ConfigError(file, [`cannot read the file: ${(e as Error).message}`]);
  }
  const config = parseText(text, file, dirname(resolve(file)));
  const f = await checkFiles(config);
  if (f.problems.length) throw new ConfigError(file, f.problems);
  return { config, keys: f.keys };
}

/** The config keys (2..9) and values a device is told, from its section. */
export function deviceParams(d: Pick<DeviceConfig, keyof typeof DEVICE_PARAMS>): Map<ConfigKey, number> {
  const m = new Map<ConfigKey, number>();
  for (const [name, key] of Object.entries(DEVICE_PARAMS)) {
    const v = d[name as keyof typeof DEVICE_PARAMS];
    if (v !== undefined) m.set(key, v);
  }
  return m;
}
