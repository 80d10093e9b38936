// The selftest as a function: connect to a target (a board on a serial
// port, the QEMU board, or the core in-process), check that it answers and
// holds a session, run the checks, close the link, and return the report
// (the JSON qn_selftest prints). qn_selftest (selftest/cli.ts) is this plus
// argument parsing and output. A target that cannot be reached, or reached
// but with no session, is a ConnectError saying what to check; a bad
// argument (an unknown check, a board that is not the one asked for) is a
// UsageError; a failed check is in the report, not thrown.
import { FrameType } from "../host/frame.ts";
import { AuthMode } from "../host/abi.ts";
import type { Context } from "./checks.ts";
import { runChecks, selectChecks, type Report, type TestEntry } from "./run.ts";
import {
  connectQemu,
  connectSerial,
  connectSim,
  DEFAULT_KEY_FILE,
  firmwareDir,
  imageManifest,
  readKey,
  resolvePlatform,
  TARGETS,
  UsageError,
  type Connected,
} from "./targets.ts";
import { identify, text } from "./probe.ts";
import type { NoiseOptions } from "../host/line-noise.ts";

export { UsageError } from "./targets.ts";
export type { Report, TestEntry } from "./run.ts";

/** The target could not be reached, or answered without a session. */
export class ConnectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConnectError";
  }
}

export interface SelftestOptions {
  /** sim: the core in-process; qemu: the mps2-an500 firmware under QEMU
   *  (booted and stopped here); serial: a board on `port`. */
  target: Context["target"];
  /** The serial port (target serial). */
  port?: string;
  /** Serial baud rate (default 921600). */
  baud?: number;
  /** The board whose build the device is compared with (default: the one
   *  it reports; one that disagrees is a UsageError). */
  platform?: string;
  /** The device's pre-shared key (default: boards/dev-psk.hex, the public
   *  development key of the emulated boards). */
  key?: Uint8Array;
  /** The authentication mode the device runs (default FRAME_MAC). */
  auth?: AuthMode;
  /** full (default) or quick (shorter soak parts). */
  mode?: Context["mode"];
  /** Only these checks: ids or numbers, comma-separated. */
  only?: string;
  /** Time for the target to answer at all, ms (default 10000). */
  timeoutMs?: number;
  /** Seeded noise on the line both ways (qemu: a relay at the UART's
   *  socket; sim and serial: on the host's side). */
  noise?: NoiseOptions;
  /** Called once connected, before the first check. */
  onStart?: (checks: number, port: string | null) => void;
  /** Called after each check. */
  onCheck?: (e: TestEntry, i: number, n: number) => void;
}

/** Run the selftest against `o.target`; resolves with the report. */
export async function runSelftest(o: SelftestOptions): Promise<Report> {
  const checks = selectChecks(o.only);
  const key = o.key ?? readKey(DEFAULT_KEY_FILE);
  const auth = o.auth ?? AuthMode.FRAME_MAC;
  const baud = o.baud ?? 921600;
  const mode = o.mode ?? "full";
  const timeoutMs = o.timeoutMs ?? 10_000;
  const timeoutS = timeoutMs / 1000;
  const target = o.target;
  // Typed, but a caller in JavaScript (or one passing a config value) can
  // still hand anything; anything else would be taken for a serial port.
  if (!TARGETS.includes(target))
    throw new UsageError(`target must be qemu, sim or serial (got ${JSON.stringify(target) ?? "none"})`);
  if (target === "serial" && !o.port) throw new UsageError("--target serial needs --port <path>");
  let conn: Connected | undefined;
  let session: Context["session"];
  try {
    const connect =
      target === "sim"
        ? connectSim(key, auth, o.noise)
        : target === "qemu"
          ? connectQemu(o.platform ?? "mps2-an500", key, auth, o.noise)
          : connectSerial(o.port!, baud, key, auth, o.noise);
    conn = await withTimeout(connect, timeoutMs, `could not connect to the ${target} target within ${timeoutS} s`);
    // The target must answer before the checks start: a silent port is a
    // connection error, not seventeen failed checks.
    await withTimeout(
      conn.peer.request(FrameType.PING, {
        payload: Uint8Array.of(1, 2, 3),
        timeoutMs,
        attemptMs: Math.min(2500, timeoutMs),
      }),
      timeoutMs + 500,
      "no answer",
    );
    session = await conn.peer.connect(timeoutMs);
    // The build to compare with is the one for the board that answered.
    const reported = text((await identify(conn.peer, timeoutMs)).get(3));
    const platform = resolvePlatform(o.platform, reported, target === "serial" ? o.port! : `the ${target} target`);
    if (target === "serial" && platform) conn.expected.image = imageManifest(firmwareDir(platform));
  } catch (e: any) {
    await conn?.close().catch(() => {});
    if (e instanceof UsageError) throw e;
    const where = target === "serial" ? o.port : target;
    if (e?.code === "ERR_AUTH")
      throw new ConnectError(`${e.message}: the device runs another key (--key-file) or auth mode (--auth)`);
    if (/no session/.test(String(e?.message)))
      throw new ConnectError(
        `${e.message}: the device answers but no session came up (auth mode ${auth}; check --auth and --key-file)`,
      );
    throw new ConnectError(
      `${e?.message ?? e}${/no answer|ERR_TIMEOUT/.test(String(e?.message)) ? ` — ${where} did not answer within ${timeoutS} s: is the QN firmware flashed and running, at ${baud} baud?` : ""}`,
    );
  }

  const ctx: Context = {
    peer: conn.peer,
    faulty: conn.faulty,
    powerCut: conn.powerCut,
    session,
    target,
    mode,
    expected: conn.expected,
    lineRate: conn.lineRate,
    injected: conn.injected && {
      how: conn.injected.how,
      ...o.noise,
      to_device: conn.injected.toDevice,
      to_host: conn.injected.toHost,
    },
  };
  try {
    o.onStart?.(checks.length, conn.port);
    return await runChecks(ctx, checks, o.onCheck ?? (() => {}), conn.port);
  } finally {
    await conn.close().catch(() => {});
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, msg: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(msg)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}
