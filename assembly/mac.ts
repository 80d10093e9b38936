// Per-frame authentication (auth mode 2): an 8-byte Chaskey-12 tag
// (crypto/chaskey.ts) under the session key over header and payload, placed
// between payload and CRC (flag bit 5), and a replay window over the
// sender's LSN: the highest LSN seen plus a 64-bit map of the 64 below it,
// as in IPsec. A frame whose LSN is older than the window or already marked
// is a replay (ERR_REPLAY), even with a valid MAC.
import { chaskey_key, chaskey_tag, CHASKEY_SCHEDULE } from "./crypto/chaskey";
import { Status } from "./status";

export const MAC_SIZE: i32 = 8;
const KS = memory.data(CHASKEY_SCHEDULE, 4);

/** Key the frame MAC: the first 16 bytes of the session key at `skey`. */
export function mac_key(skey: usize): void { chaskey_key(KS, skey); }

let top: u32 = 0;
let seen: u64 = 0;
let any: bool = false;

export function replay_reset(): void { top = 0; seen = 0; any = false; }

/** Write the MAC of `len` bytes at `p` to `dst` (keyed by mac_key when the
 *  session came up). */
export function mac_write(p: usize, len: i32, dst: usize): void {
  store<u64>(dst, load<u64>(chaskey_tag(KS, p, len)));
}

/** One 64-bit compare: no early exit on the first differing byte. */
export function mac_check(p: usize, len: i32, mac: usize): bool {
  return (load<u64>(chaskey_tag(KS, p, len)) ^ load<u64>(mac)) == 0;
}

/** Check an LSN against the window without marking it. */
export function replay_check(lsn: u32): i32 {
  if (!any) return Status.OK;
  if (<i32>(lsn - top) > 0) return Status.OK;
  const back = top - lsn;
  if (back >= 64) return Status.ERR_REPLAY;
  return (seen & (<u64>1 << <u64>back)) != 0 ? Status.ERR_REPLAY : Status.OK;
}

/** Mark an LSN seen (after its MAC checked out). */
export function replay_mark(lsn: u32): void {
  if (!any) { any = true; top = lsn; seen = 1; return; }
  const ahead = <i32>(lsn - top);
  if (ahead > 0) {
    seen = ahead >= 64 ? 0 : seen << <u64>ahead;
    seen |= 1;
    top = lsn;
  } else {
    seen |= <u64>1 << <u64>(top - lsn);
  }
}
