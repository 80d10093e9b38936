// Connects the selftest to its target: a serial port (real board), the QEMU
// board (booted here, always stopped), or the core in-process; and gives the
// checks what they need from it: a session, fault injection on the host
// side of the link, and a way to cut the target's power.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../host/status.ts";
import { Peer, type SessionOptions } from "../host/peer.ts";
import { SerialTransport } from "../host/transport/serial.ts";
import { tcpConnect } from "../host/transport/tcp.ts";
import { NoisyTransport } from "../host/transport/noisy.ts";
import type { Transport } from "../host/transport/transport.ts";
import type { NoiseOptions, NoiseStats } from "../host/line-noise.ts";
import { NoiseRelay } from "../host/noise-relay.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { memoryLink } from "../host/transport/memory.ts";
import { FaultyTransport } from "../host/transport/faulty.ts";
import { SimDevice } from "../host/sim-device.ts";
import { Qemu } from "../host/qemu.ts";
import { FrameType } from "../host/frame.ts";
import { readKeyFile } from "../host/key-file.ts";
import type { Context, Expected, Manifest } from "./checks.ts";

export class UsageError extends Error {}

/** The targets the selftest runs on (Context["target"]). */
export const TARGETS: readonly string[] = ["qemu", "sim", "serial"] satisfies Context["target"][];

export interface Connected {
  peer: Peer;
  faulty: FaultyTransport;
  expected: Expected;
  lineRate: number | null;
  port: string | null;
  /** Cut the target's power (or reset it) mid-exchange; says how. */
  powerCut?: () => Promise<string>;
  /** Noise this run put on the line itself (--line-noise), per direction. */
  injected?: { how: string; toDevice: NoiseStats; toHost: NoiseStats };
  close(): Promise<void>;
}

/** The host's side of the line, with the noise of --line-noise on it when
 *  asked: the bytes are damaged between the peer and the wire. */
function withNoise(t: Transport, noise: NoiseOptions | undefined): { t: Transport; injected?: Connected["injected"] } {
  if (!noise) return { t };
  const n = new NoisyTransport(t, noise);
  return { t: n, injected: { how: "host-side noisy transport", toDevice: n.out.stats, toHost: n.in.stats } };
}

export const DEFAULT_KEY_FILE = join(ROOT, "boards/dev-psk.hex");

/** A key file (host/key-file.ts); what is wrong with it as a UsageError. */
export function readKey(path: string): Uint8Array {
  try {
    return readKeyFile(path);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** The host's session settings for the selftest: quick to notice a lost
 *  link, so the reconnect and power-cut checks finish in seconds. */
export function sessionOptions(key: Uint8Array, auth: number): SessionOptions {
  return {
    key,
    auth,
    heartbeatMs: 100,
    heartbeatMisses: 3,
    backoffBaseMs: 20,
    backoffCapMs: 500,
    handshakeMs: 300,
    retransmitMs: 150,
  };
}

export function coreManifest(): Manifest {
  const p = join(ROOT, "build/manifest.json");
  if (!existsSync(p)) throw new UsageError(`core not built: ${p} is missing (run \`make core\`)`);
  return JSON.parse(readFileSync(p, "utf8"));
}

/** The board of the SDK folder this selftest was shipped in
 *  (<sdk>/tools/selftest, next to <sdk>/qn_board.mk); undefined in the
 *  repository. */
export function sdkPlatform(): string | undefined {
  const board = join(ROOT, "../../qn_board.mk");
  if (!existsSync(join(ROOT, "Makefile")) || !existsSync(board)) return undefined;
  if (!readFileSync(join(ROOT, "Makefile"), "utf8").includes("QN_SDK_ROOT")) return undefined;
  return /^QN_PLATFORM := (\S+)$/m.exec(readFileSync(board, "utf8"))?.[1];
}

/** How to get the QEMU firmware built, said for where the selftest runs:
 *  make here in an SDK folder for the QEMU board, --port in one for a
 *  board QEMU does not emulate, make PLATFORM=... in the repository. */
export function qemuFirmwareHint(): string {
  const sdk = sdkPlatform();
  if (sdk === undefined) return "build the QEMU firmware with `make PLATFORM=mps2-an500`";
  if (sdk === "mps2-an500") return "build the QEMU firmware with `make` in this folder";
  return `this SDK folder is for ${sdk}, which QEMU does not emulate: test a board running the firmware \`make\` builds here (build/${sdk}/release/qn.elf) with --port <path>`;
}

export function firmwareDir(platform: string, target = "release"): string {
  return join(ROOT, "build", platform, target);
}

export function imageManifest(dir: string): Expected["image"] {
  const p = join(dir, "image.json");
  if (!existsSync(p)) return undefined;
  const m = JSON.parse(readFileSync(p, "utf8"));
  return { crc32c: m.image_crc32c, bytes: m.image_bytes, what: "firmware image" };
}

export async function connectSim(key: Uint8Array, auth: number, noise?: NoiseOptions): Promise<Connected> {
  const { a, b } = memoryLink();
  const dev = new SimDevice(b, { key, auth });
  const core = coreManifest();
  const line = withNoise(a, noise);
  const faulty = new FaultyTransport(line.t);
  const peer = new Peer(faulty, { session: sessionOptions(key, auth) });
  return {
    peer,
    faulty,
    lineRate: null,
    port: null,
    injected: line.injected,
    expected: { core, image: { crc32c: core.wasm_crc32c, bytes: core.wasm_bytes, what: "qn.wasm module" } },
    powerCut: async () => {
      dev.reset();
      return "in-process device rebooted over its surviving storage";
    },
    close: async () => {
      dev.close();
      await peer.close();
    },
  };
}

/** The platform whose build the device is compared with: the one the device
 *  names in its identity. A `--platform` that names another board is a
 *  usage error, not a failed check: the device is not at fault, the command
 *  pointed the selftest at the wrong build (or the wrong port). */
export function resolvePlatform(given: string | undefined, reported: string, where: string): string | undefined {
  if (given !== undefined && reported && given !== reported) {
    throw new UsageError(
      `--platform ${given}, but the device on ${where} reports ${reported}: drop --platform to test it against the ${reported} build, or point the selftest at a ${given} board`,
    );
  }
  return reported || given;
}

/** A serial target's expected image is known once the device has said what
 *  platform it is (resolvePlatform): the caller sets `expected.image`. */
export async function connectSerial(
  path: string,
  baud: number,
  key: Uint8Array,
  auth: number,
  noise?: NoiseOptions,
): Promise<Connected> {
  // tcp:HOST:PORT is a serial line carried by a socket (a line-noise relay,
  // tools/noise-relay.ts, in front of QEMU's socket chardev).
  const tcp = path.startsWith("tcp:");
  const t = tcp ? await tcpConnect(path.slice(4)) : new SerialTransport({ path, baudRate: baud });
  try {
    await t.open();
  } catch (e) {
    // The transport says what is wrong with the port; the selftest has
    // other targets to offer (the gateway, which reports the same error,
    // has not).
    if (/no such port/.test((e as Error).message)) (e as Error).message += ", or use --target qemu / --target sim";
    throw e;
  }
  const line = withNoise(t, noise);
  const faulty = new FaultyTransport(line.t);
  const peer = new Peer(faulty, { session: sessionOptions(key, auth) });
  return {
    peer,
    faulty,
    lineRate: tcp ? null : baud / 10,
    port: path,
    injected: line.injected,
    expected: { core: coreManifest() },
    // A real board cannot have its supply cut from here: it is told to
    // reset itself at once (a system reset mid-exchange, RAM lost).
    powerCut: async () => {
      peer.send(FrameType.RESET_REQ);
      await peer.flush();
      return "board reset on command (RESET_REQ)";
    },
    close: () => peer.close(),
  };
}

export async function connectQemu(
  platform: string,
  key: Uint8Array,
  auth: number,
  noise?: NoiseOptions,
): Promise<Connected> {
  if (platform !== "mps2-an500")
    throw new UsageError(`--target qemu: only --platform mps2-an500 is emulated (got ${platform})`);
  const dir = firmwareDir(platform);
  const elf = join(dir, "qn.elf");
  if (!existsSync(elf)) throw new UsageError(`QEMU firmware not built: ${elf} is missing (${qemuFirmwareHint()})`);
  // With line noise the UART is a unix socket with a noise relay in front
  // of it (host/noise-relay.ts; Node cannot open a pty master); else a pty.
  const sockDir = noise ? mkdtempSync(join(tmpdir(), "qn-uart-")) : "";
  const uart = join(sockDir, "uart");
  const q = await Qemu.start({ elf, serial: noise ? { socket: uart } : "pty" });
  let relay: NoiseRelay | undefined;
  const cleanup = async () => {
    await relay?.close();
    await q.stop();
    if (sockDir) rmSync(sockDir, { recursive: true, force: true });
  };
  try {
    let t: Transport;
    let injected: Connected["injected"];
    if (noise) {
      relay = await NoiseRelay.start({ device: { path: uart }, noise, waitMs: 5000 });
      t = await tcpConnect(relay.address.slice(4));
      injected = {
        how: `noise relay at QEMU's UART socket`,
        toDevice: relay.toDevice.stats,
        toHost: relay.toHost.stats,
      };
    } else t = new SerialTransport({ path: q.pty, baudRate: 921600 });
    await t.open();
    await q.cont();
    const faulty = new FaultyTransport(t);
    const peer = new Peer(faulty, { session: sessionOptions(key, auth) });
    return {
      peer,
      faulty,
      lineRate: null,
      port: relay ? relay.address : q.pty,
      injected,
      expected: { core: coreManifest(), image: imageManifest(dir) },
      powerCut: async () => {
        await q.monitor("system_reset");
        return "QEMU system_reset at an arbitrary instruction (RAM lost, journal storage kept)";
      },
      close: async () => {
        try {
          await peer.close();
        } finally {
          await cleanup();
        }
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
