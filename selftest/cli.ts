// qn_selftest: runs the 17 health checks against a board over its serial
// port, the emulated Cortex-M7 (QEMU), or the core in-process, and prints a
// results table or a JSON report.
// Exit status: 0 nothing failed, 1 a check failed, 2 usage or connection
// error (with a one-line message that says what to do).
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CHECKS, type Context } from "./checks.ts";
import { selectChecks, type TestEntry, type Report } from "./run.ts";
import { firmwareDir, qemuFirmwareHint, readKey, DEFAULT_KEY_FILE, TARGETS, UsageError } from "./targets.ts";
import { ConnectError, runSelftest } from "./api.ts";
import type { AuthMode } from "../host/abi.ts";
import type { NoiseOptions } from "../host/line-noise.ts";
import { describeLine, parseNoise } from "./line-quality.ts";

const HELP = `usage: qn_selftest [options]

Runs QN's 17 health checks against a target and reports the results.

target (default: the QEMU board if its firmware is built, else sim):
  --port <path>          a board on a serial port (e.g. /dev/ttyACM0)
  --baud <n>             serial baud rate (default 921600)
  --target <t>           qemu | sim | serial (serial needs --port)
  --platform <name>      the board whose build (build/<name>/release/image.json) the
                         device is compared with (default: the platform the device
                         reports; one that disagrees with it is a usage error)
  --key-file <path>      the device's pre-shared key, hex (default boards/dev-psk.hex,
                         the public development key the emulated boards use)
  --auth <0|1|2>         authentication mode the device runs (default 2: handshake
                         and per-frame MAC)

options:
  --mode <m>             full (default) | quick (shorter soak parts)
  --output <o>           text (default on a terminal) | json (report on stdout, progress on stderr)
  --only <id,...>        run only these checks (ids or numbers, see --list)
  --timeout <s>          seconds to wait for the target to answer at all (default 10)
  --line-noise <spec>    put seeded noise on the line, both ways: a bit error rate
                         (1e-4) or ber=P,drop=P,insert=P,seed=N (drop/insert per byte).
                         qemu: a noise relay at the UART's socket; sim, serial: on the
                         host's side of the line
  --list                 list the checks and exit
  --help                 this text

exit status: 0 nothing failed, 1 a check failed, 2 usage or connection error`;

function usage(msg: string): never {
  process.stderr.write(`qn_selftest: ${msg}\nTry 'qn_selftest --help'.\n`);
  process.exit(2);
}

function parse() {
  try {
    return parseArgs({
      options: {
        port: { type: "string" },
        baud: { type: "string" },
        target: { type: "string" },
        platform: { type: "string" },
        mode: { type: "string" },
        output: { type: "string" },
        only: { type: "string" },
        timeout: { type: "string" },
        list: { type: "boolean" },
        help: { type: "boolean" },
        "key-file": { type: "string" },
        auth: { type: "string" },
        "line-noise": { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e: any) {
    usage(e.message.replace(/^.*?: /, ""));
  }
}

function line(e: TestEntry, i: number, n: number): string {
  const ms = (e.duration_us / 1000).toFixed(1).padStart(8);
  return `[${String(i).padStart(2)}/${n}] ${String(e.number).padStart(2)} ${e.id.padEnd(22)} ${e.status.padEnd(4)} ${ms} ms  ${e.detail}`;
}

function table(r: Report): string {
  // A check that did not pass says why on its row: the progress lines with
  // the details went to stderr, which a redirected report loses.
  const rows = r.tests.map(
    (t) =>
      `  ${String(t.number).padStart(2)}  ${t.id.padEnd(22)} ${t.status.padEnd(5)} ${(t.duration_us / 1000).toFixed(1).padStart(9)} ms` +
      (t.status === "PASS" ? "" : `  ${t.detail}`),
  );
  return [
    "",
    `QN selftest: ${r.platform} (${r.target}${r.port ? " " + r.port : ""}), firmware ${r.firmware.version} build ${r.firmware.build_id}, clock ${r.firmware.clock_hz} Hz`,
    "   #  check                  status       time",
    ...rows,
    `health_status: ${r.health_status}  (${r.summary.passed} passed, ${r.summary.failed} failed, ${r.summary.skipped} skipped)` +
      (r.max_latency_us !== null ? `  max_latency_us: ${r.max_latency_us}` : ""),
    describeLine(r.line),
    ...(r.summary.failed && r.line.verdict !== "clean"
      ? [
          `the line damaged frames during this run: a failed check whose detail names the line could not verify QN on it; fix or replace the line and run again before suspecting the software`,
        ]
      : []),
  ].join("\n");
}

async function main(): Promise<void> {
  const a = parse();
  if (a.help) {
    console.log(HELP);
    return;
  }
  if (a.list) {
    for (const c of CHECKS) console.log(`${String(c.n).padStart(2)}  ${c.id.padEnd(22)} ${c.name}`);
    return;
  }
  const mode = (a.mode ?? "full") as Context["mode"];
  if (mode !== "full" && mode !== "quick") usage(`--mode must be full or quick (got ${a.mode})`);
  const output = a.output ?? (process.stdout.isTTY ? "text" : "json");
  if (output !== "text" && output !== "json") usage(`--output must be text or json (got ${a.output})`);
  const timeoutS = a.timeout === undefined ? 10 : Number(a.timeout);
  if (!(timeoutS > 0)) usage(`--timeout must be a positive number of seconds (got ${a.timeout})`);
  const baud = a.baud === undefined ? 921600 : Number(a.baud);
  if (!Number.isInteger(baud) || baud <= 0) usage(`--baud must be a positive integer (got ${a.baud})`);
  try {
    selectChecks(a.only); // before connecting: a bad --only is a usage error
  } catch (e: any) {
    usage(e.message);
  }
  const auth = a.auth === undefined ? 2 : Number(a.auth);
  if (![0, 1, 2].includes(auth)) usage(`--auth must be 0, 1 or 2 (got ${a.auth})`);
  let key: Uint8Array;
  try {
    key = readKey(a["key-file"] ?? DEFAULT_KEY_FILE);
  } catch (e: any) {
    usage(e.message);
  }

  let target = a.target as Context["target"] | undefined;
  if (target && !TARGETS.includes(target)) usage(`--target must be qemu, sim or serial (got ${target})`);
  if (a.port && target && target !== "serial")
    usage(`--port goes with --target serial (or no --target), not --target ${target}`);
  if (a.port) target = "serial";
  if (target === "serial" && !a.port) usage("--target serial needs --port <path>");
  let noise: NoiseOptions | undefined;
  try {
    noise = a["line-noise"] === undefined ? undefined : parseNoise(a["line-noise"]);
  } catch (e: any) {
    usage(e.message);
  }
  const log = (s: string) => process.stderr.write(s + "\n");
  if (!target) {
    const built = existsSync(join(firmwareDir("mps2-an500"), "qn.elf"));
    target = built ? "qemu" : "sim";
    log(
      `qn_selftest: no target given: using ${built ? "the QEMU board (mps2-an500 firmware is built)" : `the core in-process (--target sim; ${qemuFirmwareHint()})`}`,
    );
  }

  const fatal = (msg: string): never => {
    process.stderr.write(`qn_selftest: ${msg}\n`);
    process.exit(2);
  };
  let report: Report;
  try {
    report = await runSelftest({
      target,
      port: a.port,
      baud,
      platform: a.platform,
      key: key!,
      auth: auth as AuthMode,
      mode,
      only: a.only,
      timeoutMs: timeoutS * 1000,
      noise,
      onStart: (n, port) => {
        if (output === "text") log(`qn_selftest: ${n} checks, mode ${mode}, target ${target}${port ? " " + port : ""}`);
      },
      onCheck: (e, i, n) => log(line(e, i, n)),
    });
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConnectError) fatal(e.message);
    throw e;
  }
  if (output === "json") process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  else console.log(table(report));
  process.exitCode = report.health_status === "FAIL" ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`qn_selftest: internal error: ${e?.stack ?? e}\n`);
  process.exit(2);
});
