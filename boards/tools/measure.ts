// Boot cost and stack high-water of the mps2-an500 firmware, measured in
// QEMU with -icount shift=0 (1 instruction = 1 ns of virtual time, and
// SysTick follows it, so the count repeats exactly from run to run).
// The firmware stores the virtual nanoseconds from reset to "ready" in
// qn_boot_ns (the journal open is part of it; qn_journal_open_us is that
// part alone); this reads them through QEMU's monitor, then runs a ping,
// an identity request (when a codec is built), a handshake (HMAC-SHA-256
// challenge-response, the deepest path) and a 200-byte QoS 1 DATA echo
// with frame MACs, and reads the painted stack through the monitor: the
// first word from the bottom that no longer holds the paint is the
// high-water mark. The stack figure covers the paths exercised here.
// Usage: node --import tsx boards/tools/measure.ts <qn.elf> [--json]
import { execFileSync } from "node:child_process";
import { Qemu } from "../../host/qemu.ts";
import { FramePort } from "../test/wire.ts";
import { FrameType } from "../../host/frame.ts";
import { Session } from "../test/session.ts";

export const BOOT_GOAL = 480_000;

export interface Measurement {
  bootInstructions: number;
  journalOpenUs: number;
  stackUsed: number;
  stackSize: number;
}

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
    const journalOpenUs = await q.readWord(symbol(elf, "qn_journal_open_us"));
    await port.warmUp();
    // Protobuf is part of the protocol and always built: identity answers.
    await port.request(FrameType.IDENT_REQ, 3, FrameType.IDENT, undefined, 2000, { codec: 1 });
    const s = await Session.open(port);
    try {
      s.publish(1, 1, new Uint8Array(200).fill(0x55));
      await s.waitFor((m) => m.type === FrameType.DATA && m.channel === 1, 3000);
    } finally {
      s.close();
    }
    const lo = symbol(elf, "_sstack"),
      hi = symbol(elf, "_estack");
    const words = await q.readWords(lo, (hi - lo) / 4);
    const untouched = words.findIndex((w) => w !== 0xa5a5a5a5);
    return {
      bootInstructions: boot,
      journalOpenUs,
      stackUsed: hi - lo - 4 * (untouched < 0 ? words.length : untouched),
      stackSize: hi - lo,
    };
  } finally {
    await port?.close();
    await q.stop();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/boards\//, "/boards/"))) {
  const elf = process.argv[2];
  if (!elf) {
    console.error("usage: measure.ts <qn.elf> [--json]");
    process.exit(2);
  }
  const m = await measure(elf);
  if (process.argv.includes("--json")) console.log(JSON.stringify(m));
  else {
    console.log(
      `boot cost: ${m.bootInstructions} instructions from reset to ready (QEMU -icount shift=0; goal < ${BOOT_GOAL}), of which journal open ~${m.journalOpenUs * 1000} (${m.journalOpenUs} us at 1 instruction/ns)`,
    );
    console.log(
      `stack high-water: ${m.stackUsed} of ${m.stackSize} bytes (painted stack, after ping, identity, handshake, 200-byte QoS 1 DATA echo with MACs)`,
    );
  }
  if (m.bootInstructions >= BOOT_GOAL) {
    console.error(`bootcost: over the goal of ${BOOT_GOAL}`);
    process.exit(1);
  }
}
