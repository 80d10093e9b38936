// Small readers the board tests share: ELF symbols, T_ERROR payloads.
import { execFileSync } from "node:child_process";
import { readProto } from "./wire.ts";
import { zigzagDecode } from "../../host/zigzag.ts";

/** Address of a symbol in an ARM ELF. */
export function elfSymbol(elf: string, name: string): number {
  const m = new RegExp(`^([0-9a-f]+) \\w ${name}$`, "m").exec(
    execFileSync("arm-none-eabi-nm", [elf], { encoding: "utf8" }),
  );
  if (!m) throw new Error(`${name} not in ${elf}`);
  return parseInt(m[1], 16);
}

const unzig = (v: bigint) => Number(zigzagDecode(v));

/** The status in a T_ERROR payload (PROTOCOL.md: field 1, sint).
 *  KNOWN CORE ISSUE (reported): assembly/core.ts send_error zigzags the
 *  status itself and then adds it as K_SINT, which zigzags again, so the
 *  wire carries it encoded twice. A value that only makes sense decoded
 *  twice is decoded twice; drop that branch once the core is fixed. */
export function errorStatus(payload: Uint8Array): number {
  const v = readProto(payload).get(1);
  if (typeof v !== "bigint") throw new Error("T_ERROR without a status field");
  const once = unzig(v);
  return once >= 0 && unzig(BigInt(once)) < 0 ? unzig(BigInt(once)) : once;
}
