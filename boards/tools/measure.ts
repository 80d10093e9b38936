// Boot cost and stack high-water of the mps2-an500 firmware, measured in
// QEMU with -icount shift=0 (1 instruction = 1 ns of virtual time, and
// SysTick follows it, so the count repeats exactly from run to run).
// The firmware stores the virtual nanoseconds from reset to "ready" in
// qn_boot_ns; this reads it through QEMU's monitor, then runs a ping, an
// identity request and a DATA echo and reads the painted-stack high-water
// mark the firmware reports in identity (field 13).
// Usage: node --import tsx boards/tools/measure.ts <qn.elf> [--json]
import { execFileSync } from "node:child_process";
import { Qemu } from "../test/qemu.ts";
import { FramePort, T, readProto } from "../test/wire.ts";

export const BOOT_GOAL = 480_000;

export interface Measurement { bootInstructions: number; stackUsed: number; stackSize: number }

function symbol(elf: string, name: string): number {
  const out = execFileSync("arm-none-eabi-nm", [elf], { encoding: "utf8" });
  const m = new RegExp(`^([0-9a-f]+) \\w ${name}$`, "m").exec(out);
  if (!m) throw new Error(`${name} not found in ${elf}`);
  return parseInt(m[1], 16);
}

export async function measure(elf: string): Promise<Measurement> {
  const addr = symbol(elf, "qn_boot_ns");
  const q = await Qemu.start({ elf, icount: true });
  let port: FramePort | undefined;
  try {
    port = await FramePort.open(q.pty);
    await q.cont();
    let boot = 0;
    for (let i = 0; i < 100 && boot === 0; i++) {
      boot = await q.readWord(addr);
      if (boot === 0) await new Promise((r) => setTimeout(r, 20));
    }
    if (boot === 0) throw new Error(`firmware never reached ready (qn_boot_ns stays 0); QEMU says: ${q.stderr}`);
    await port.warmUp();
    await port.request(T.DATA, 2, T.DATA, new Uint8Array(200).fill(0x55), 2000, { channel: 1 });
    await port.request(T.IDENT_REQ, 3, T.IDENT, undefined, 2000, { codec: 1 });
    // The stack figure reaches the core every 10 ms: let one report pass
    // after the deepest calls above, then ask again.
    await new Promise((r) => setTimeout(r, 100));
    const id = readProto((await port.request(T.IDENT_REQ, 4, T.IDENT, undefined, 2000, { codec: 1 })).payload);
    return { bootInstructions: boot, stackUsed: Number(id.get(13)), stackSize: Number(id.get(14)) };
  } finally {
    await port?.close();
    await q.stop();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/boards\//, "/boards/"))) {
  const elf = process.argv[2];
  if (!elf) { console.error("usage: measure.ts <qn.elf> [--json]"); process.exit(2); }
  const m = await measure(elf);
  if (process.argv.includes("--json")) console.log(JSON.stringify(m));
  else {
    console.log(`boot cost: ${m.bootInstructions} instructions from reset to ready (QEMU -icount shift=0; goal < ${BOOT_GOAL})`);
    console.log(`stack high-water: ${m.stackUsed} of ${m.stackSize} bytes (painted stack, after ping, identity, 200-byte DATA echo)`);
  }
  if (m.bootInstructions >= BOOT_GOAL) { console.error(`bootcost: over the goal of ${BOOT_GOAL}`); process.exit(1); }
}
