// The core's message field table from the host: fields in (qn_msg_add,
// byte fields staged in the host scratch) and out (qn_msg_*), for
// QnCore.encode / QnCore.decode. Part of the core wrapper: only host/core.ts
// calls it, with its private export table.
import { QnError, Status, check } from "./status.ts";
import { FieldKind } from "./abi.ts";
import { bytesArg } from "./args.ts";
import type { CoreExports } from "./core-exports.ts";

export interface Field {
  tag: number;
  kind: number;
  value: bigint;
  bytes?: Uint8Array;
}

/** Fill the core's field table with `fields`; byte fields are copied to
 *  [data, data + area) of `u8` first. */
export function putFields(x: CoreExports, u8: Uint8Array, data: number, area: number, fields: Field[]): void {
  x.qn_msg_reset();
  const end = data + area;
  for (const f of fields) {
    let st: number;
    if (f.kind === FieldKind.BYTES) {
      const b = bytesArg(
        f.bytes ?? new Uint8Array(0),
        end - data,
        `field ${f.tag}: bytes (all byte fields together at most ${area})`,
      );
      u8.set(b, data);
      st = x.qn_msg_add(f.tag, f.kind, BigInt(data), b.length);
      data += b.length;
    } else {
      if (typeof f.value !== "bigint")
        throw new QnError(Status.ERR_ARG, `field ${f.tag}: value must be a bigint, not ${typeof f.value}`);
      st = x.qn_msg_add(f.tag, f.kind, BigInt.asUintN(64, f.value), 0);
    }
    check(st, `field ${f.tag}`);
  }
}

/** The core's field table as Fields (byte fields copied out). */
export function takeFields(x: CoreExports, u8: Uint8Array): Field[] {
  const n = x.qn_msg_count();
  const out: Field[] = [];
  for (let i = 0; i < n; i++) {
    const kind = x.qn_msg_kind(i);
    const value = BigInt.asUintN(64, x.qn_msg_value(i));
    const f: Field = {
      tag: x.qn_msg_tag(i),
      kind,
      value: kind === FieldKind.SINT ? BigInt.asIntN(64, value) : value,
    };
    if (kind === FieldKind.BYTES) {
      const p = Number(value);
      f.bytes = u8.slice(p, p + (x.qn_msg_len(i) >>> 0));
      f.value = 0n;
    }
    out.push(f);
  }
  return out;
}
