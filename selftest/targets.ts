// Connects the selftest to its target: a serial port (real board), the QEMU
// board (booted here, always stopped), or the core in-process.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../host/status.ts";
import { Peer } from "../host/peer.ts";
import { SerialTransport } from "../host/transport/serial.ts";
import { memoryLink } from "../host/transport/memory.ts";
import { SimDevice } from "../host/sim-device.ts";
import { Qemu } from "../host/qemu.ts";
import type { Expected, Manifest } from "./checks.ts";

export class UsageError extends Error {}

export interface Connected {
  peer: Peer;
  expected: Expected;
  lineRate: number | null;
  port: string | null;
  close(): Promise<void>;
}

function coreManifest(): Manifest {
  const p = join(ROOT, "build/manifest.json");
  if (!existsSync(p)) throw new UsageError(`core not built: ${p} is missing (run \`make core\`)`);
  return JSON.parse(readFileSync(p, "utf8"));
}

export function firmwareDir(platform: string, target = "release"): string {
  return join(ROOT, "build", platform, target);
}

function imageManifest(dir: string): Expected["image"] {
  const p = join(dir, "image.json");
  if (!existsSync(p)) return undefined;
  const m = JSON.parse(readFileSync(p, "utf8"));
  return { crc32c: m.image_crc32c, bytes: m.image_bytes, what: "firmware image" };
}

export async function connectSim(): Promise<Connected> {
  const { a, b } = memoryLink();
  new SimDevice(b);
  const core = coreManifest();
  const peer = new Peer(a);
  return {
    peer, lineRate: null, port: null,
    expected: { core, image: { crc32c: core.wasm_crc32c, bytes: core.wasm_bytes, what: "qn.wasm module" } },
    close: () => peer.close(),
  };
}

export async function connectSerial(path: string, baud: number, platform: string): Promise<Connected> {
  const t = new SerialTransport({ path, baudRate: baud });
  await t.open();
  const peer = new Peer(t);
  return {
    peer, lineRate: baud / 10, port: path,
    expected: { core: coreManifest(), image: imageManifest(firmwareDir(platform)) },
    close: () => peer.close(),
  };
}

export async function connectQemu(platform: string): Promise<Connected> {
  if (platform !== "mps2-an500") throw new UsageError(`--target qemu: only --platform mps2-an500 is emulated (got ${platform})`);
  const dir = firmwareDir(platform);
  const elf = join(dir, "qn.elf");
  if (!existsSync(elf)) throw new UsageError(`QEMU firmware not built: ${elf} is missing (run \`make PLATFORM=${platform}\`)`);
  const q = await Qemu.start({ elf });
  try {
    const t = new SerialTransport({ path: q.pty, baudRate: 921600 });
    await t.open();
    await q.cont();
    const peer = new Peer(t);
    return {
      peer, lineRate: null, port: q.pty,
      expected: { core: coreManifest(), image: imageManifest(dir) },
      close: async () => { try { await peer.close(); } finally { await q.stop(); } },
    };
  } catch (e) {
    await q.stop();
    throw e;
  }
}
