// qnctl: talk to a running gateway through its ops API (loopback HTTP,
// bearer token from gateway.ops.token_file). The address and token come
// from the gateway's config file (--config, or the file given to reload),
// or from --url and --token-file.
import { Command } from "commander";
import { readBoundedSync } from "../host/bounded-read.ts";
import { TOKEN_LIMIT } from "./token-file.ts";
import { resolve } from "node:path";
import { loadConfig, ConfigError } from "./config.ts";
import { readKeyFile } from "../host/key-file.ts";

interface Opts {
  config?: string;
  url?: string;
  tokenFile?: string;
  json?: boolean;
}

function endpoint(o: Opts, fallbackConfig?: string): { base: string; token: string; tokenFile: string } {
  let listen = "127.0.0.1:8848",
    tokenFile = resolve("var/ops.token");
  const cfgFile = o.config ?? fallbackConfig;
  if (cfgFile) {
    const c = loadConfig(cfgFile);
    listen = c.gateway.ops.listen;
    tokenFile = c.gateway.ops.token_file;
  }
  if (o.tokenFile) tokenFile = resolve(o.tokenFile);
  let token: string;
  try {
    token = readBoundedSync(tokenFile, TOKEN_LIMIT).data.toString("utf8").trim();
  } catch (e) {
    throw new Error(`cannot read the ops token: ${(e as Error).message} (is the gateway running, as this user?)`);
  }
  return { base: o.url ?? `http://${listen}`, token, tokenFile };
}

async function call(
  o: Opts,
  method: string,
  path: string,
  fallbackConfig?: string,
  timeoutMs = 15000,
  payload?: unknown,
): Promise<{ status: number; body: any; text: string }> {
  const { base, token, tokenFile } = endpoint(o, fallbackConfig);
  let res: Response;
  try {
    res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(payload ? { "content-type": "application/json" } : {}) },
      body: payload === undefined ? undefined : JSON.stringify(payload),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw new Error(
      `no gateway at ${base}: ${(e as Error).cause ? ((e as any).cause.code ?? (e as Error).message) : (e as Error).message}`,
    );
  }
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* text or YAML */
  }
  // Not this gateway's token: say so, for every command (each printer
  // below expects its own answer, not an error object).
  if (res.status === 401)
    throw new Error(
      `the gateway at ${base} refused the token in ${tokenFile}: ${body?.error ?? text} (is it the file named by the gateway's gateway.ops.token_file?)`,
    );
  return { status: res.status, body, text };
}

/** The answer in human form, or as it came with --json. An error answer
 *  ({ error }) goes to stderr whatever the command. */
function print(o: Opts, r: { status: number; body: any; text: string }, human?: (b: any) => string): void {
  if (!o.json && r.status >= 400 && typeof r.body === "object" && r.body !== null && typeof r.body.error === "string") {
    process.stderr.write(`qnctl: ${r.body.error}\n`);
    return;
  }
  process.stdout.write(o.json || !human || typeof r.body !== "object" ? r.text : human(r.body));
}

const program = new Command("qnctl")
  .description("control a running QN gateway")
  .option("-c, --config <file>", "the gateway's config (for the ops address and token file)")
  .option("--url <url>", "ops API base URL (default from the config: http://127.0.0.1:8848)")
  .option("--token-file <file>", "bearer token file (default from the config)")
  .option("--json", "raw JSON output");

const run =
  (f: (...a: any[]) => Promise<number>) =>
  async (...a: any[]) => {
    try {
      process.exitCode = await f(...a);
    } catch (e) {
      process.stderr.write(`qnctl: ${e instanceof ConfigError ? e.message : (e as Error).message}\n`);
      process.exitCode = 2;
    }
  };

program
  .command("status")
  .description("gateway health; exit 1 when degraded (broker not connected, queue nearly full)")
  .action(
    run(async () => {
      const o = program.opts<Opts>();
      const r = await call(o, "GET", "/health");
      print(
        o,
        r,
        (b) =>
          `gateway ${b.status}, up ${b.uptime_s} s; broker ${b.broker}, queue ${b.queue_depth}/${b.queue_limit}; devices up ${b.devices_up}/${b.devices}\n` +
          (b.problems ?? []).map((p: string) => `  ${p}\n`).join(""),
      );
      // A script can tell a gateway that needs an operator: exit 1.
      return r.status === 200 && r.body?.status === "ok" ? 0 : 1;
    }),
  );

program
  .command("devices")
  .description("every device link")
  .action(
    run(async () => {
      const o = program.opts<Opts>();
      const r = await call(o, "GET", "/devices");
      print(
        o,
        r,
        (b: any[]) =>
          b
            .map(
              (d) =>
                `${d.id.padEnd(16)} ${d.state.padEnd(9)} ${d.transport.padEnd(24)} messages up ${d.uplink} down ${d.downlink}${d.last_error ? `  last error: ${d.last_error}` : ""}`,
            )
            .join("\n") + "\n",
      );
      return r.status === 200 ? 0 : 1;
    }),
  );

program
  .command("reload")
  .argument("[config]", "the gateway's config file (the gateway reloads only the file it was started with)")
  .description("apply the edited config file without dropping device links")
  .action(
    run(async (file?: string) => {
      const o = program.opts<Opts>();
      const path = file === undefined ? undefined : resolve(file);
      const r = await call(
        o,
        "POST",
        path === undefined ? "/reload" : `/reload?file=${encodeURIComponent(path)}`,
        o.config ? undefined : path,
      );
      print(o, r, (b) =>
        b.ok
          ? `reloaded: started [${b.started}] stopped [${b.stopped}] restarted [${b.restarted}] config pushed [${b.pushed}] unchanged [${b.unchanged}]\n`
          : `reload refused, the running config stays:\n  ${(b.errors ?? []).join("\n  ")}\n`,
      );
      return r.status === 200 ? 0 : 1;
    }),
  );

program
  .command("selftest")
  .argument("<device>")
  .description(
    "the selftest checks that can run over the gateway's live link to the device; the others are listed as skipped, with the reason",
  )
  .option("--only <ids>", "check ids or numbers, comma-separated (as qn_selftest --only)")
  .option("--mode <mode>", "quick (default) or full")
  .action(
    run(async (dev: string, so: { only?: string; mode?: string }) => {
      const o = program.opts<Opts>();
      const q = new URLSearchParams();
      if (so.only) q.set("only", so.only);
      if (so.mode) q.set("mode", so.mode);
      const r = await call(
        o,
        "POST",
        `/devices/${encodeURIComponent(dev)}/selftest${q.size ? `?${q}` : ""}`,
        undefined,
        120000,
      );
      print(o, r, (b) =>
        b.report
          ? b.report.tests
              .map((t: any) => `${t.status.padEnd(4)}  ${String(t.number).padStart(2)} ${t.id.padEnd(22)} ${t.detail}`)
              .join("\n") +
            `\n${b.device}: health_status ${b.report.health_status} (${b.report.summary.passed} passed, ${b.report.summary.failed} failed, ${b.report.summary.skipped} skipped)\n` +
            (b.skipped_why ? `${b.skipped_why}\n` : "")
          : `${b.error}\n`,
      );
      // As qn_selftest: 0 when nothing failed (INCOMPLETE included), 2 for a
      // request it refused (a bad --only or --mode), 1 otherwise.
      if (r.status === 400) return 2;
      return r.status === 200 && r.body.report.health_status !== "FAIL" ? 0 : 1;
    }),
  );

program
  .command("log")
  .argument("<device>")
  .description("the device's event log")
  .action(
    run(async (dev: string) => {
      const o = program.opts<Opts>();
      const r = await call(o, "GET", `/devices/${encodeURIComponent(dev)}/log`);
      print(o, r, (b) =>
        b.events
          ? b.events.map((e: any) => `#${e.seq}  t=${e.time_us} µs  ${e.event}  code ${e.code}`).join("\n") + "\n"
          : `${b.error}\n`,
      );
      return r.status === 200 ? 0 : 1;
    }),
  );

/** Registry records to the gateway (POST /registry), applied live. */
async function registry(records: object[]): Promise<number> {
  const o = program.opts<Opts>();
  const r = await call(o, "POST", "/registry", undefined, 15000, { records });
  print(o, r, (b) => (b.ok ? `${b.applied.join("\n")}\n` : `refused: ${b.error}\n`));
  return r.status === 200 ? 0 : 1;
}

const device = program.command("device").description("the fleet's device registry (applied live)");
device
  .command("add")
  .argument("<id>")
  .requiredOption("--key-id <n>", "the id the device names its key with (1..4294967295)")
  .requiredOption("--key-file <file>", "the device's pre-shared key (hex)")
  .requiredOption("--profile <name>", "its profile (channel map, session settings)")
  .description("add a device, rotate its key, or move it to another profile")
  .action(
    run((id: string, a: { keyId: string; keyFile: string; profile: string }) =>
      registry([
        {
          device: id,
          key_id: Number(a.keyId),
          key: Buffer.from(readKeyFile(resolve(a.keyFile))).toString("hex"),
          profile: a.profile,
        },
      ]),
    ),
  );
device
  .command("revoke")
  .argument("<id>")
  .description("cut the device's link now and refuse it from now on")
  .action(run((id: string) => registry([{ device: id, revoke: true }])));
device
  .command("remove")
  .argument("<id>")
  .description("forget the device (its link is cut)")
  .action(run((id: string) => registry([{ device: id, remove: true }])));
device
  .command("list")
  .description("every registry device (keys are never shown)")
  .action(
    run(async () => {
      const o = program.opts<Opts>();
      const r = await call(o, "GET", "/registry");
      print(
        o,
        r,
        (b: any[]) =>
          b
            .map(
              (d) =>
                `${d.id.padEnd(20)} key id ${String(d.key_id).padEnd(10)} ${d.profile.padEnd(12)} ${d.revoked ? "REVOKED " : ""}${d.state}`,
            )
            .join("\n") + "\n",
      );
      return r.status === 200 ? 0 : 1;
    }),
  );

program.parseAsync();
