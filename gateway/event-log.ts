// The device's event log merged into the gateway's log. Each device keeps
// its last EVENT_SLOTS (12) operation records in a journalled ring (link
// up/down, auth failure, trap, boot, config applied, journal error), each
// with a sequence number (its LSN in the event log) and the device clock.
// The gateway fetches the ring (T_LOG_REQ -> T_LOG) when the link comes up,
// after a config push, every `event_poll_ms`, and for `qnctl log`; every
// record newer than the last one written becomes one pino line, once.
//
// The last LSN written is kept in a small file next to the device's journal,
// so a gateway restart does not write the ring again (not fsync'd: after a
// crash a few records may be written twice, never skipped). Two things are
// said out loud instead of hidden: a ring that overflowed between fetches
// (records lost on the device, LSNs skipped) and a device whose event log
// started again (its journal was wiped, or another device took the link).
import { writeFileSync } from "node:fs";
import { readBoundedSync, FileError } from "../host/bounded-read.ts";
import type { Logger } from "pino";
import type { QnCore } from "../host/core.ts";
import { Codec, EVENT_TYPE_NAMES, EventType } from "../host/abi.ts";

/** Events that point at a fault get a warning line, the rest info. */
const WARN_TYPES = new Set<number>([EventType.AUTH_FAIL, EventType.TRAP, EventType.JOURNAL]);

export interface DeviceEvent {
  seq: number;
  time_us: number;
  type: number;
  event: string;
  code: number;
}

/** The records of a T_LOG payload (field 1, 16 bytes each; layout in
 *  assembly/events.ts), oldest first. Short records are skipped. */
export function decodeEvents(core: QnCore, payload: Uint8Array): DeviceEvent[] {
  return core
    .decode(Codec.PB, payload)
    .filter((f) => f.tag === 1 && f.bytes && f.bytes.length >= 16)
    .map((f) => {
      const b = Buffer.from(f.bytes!);
      const type = b[8];
      return {
        seq: b.readUInt32LE(0),
        time_us: b.readUInt32LE(4),
        type,
        event: EVENT_TYPE_NAMES.get(type) ?? `type ${type}`,
        code: b.readInt32LE(12),
      };
    });
}

export class EventMerger {
  /** Highest LSN written to the log (0: none yet). */
  last = 0;
  /** Fetches done and records written, for status and tests. */
  polls = 0;
  written = 0;
  private chain: Promise<unknown> = Promise.resolve();

  /** The state file is ours to write: absent, or holding an LSN. Any other
   *  file at its path (someone else's, a link, a device) is left alone and
   *  the LSN kept in memory only. */
  private readonly owned: boolean = true;

  constructor(
    private statePath: string,
    private log: Logger,
    private fetch: () => Promise<DeviceEvent[]>,
    private onWrite?: (e: DeviceEvent) => void,
  ) {
    try {
      const text = readBoundedSync(statePath, { max: 64, what: "event LSN file", noFollow: true })
        .data.toString("utf8")
        .trim();
      const v = Number(text);
      if (text !== "" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) this.last = v;
      else if (text !== "") this.owned = false;
    } catch (e) {
      // First run: everything in the ring is new.
      if (!(e instanceof FileError && e.code === "ENOENT")) this.owned = false;
    }
    if (!this.owned)
      this.log.warn(
        { file: statePath },
        "a file that is not an event LSN file is in the way: left alone, the last LSN written is kept in memory only",
      );
  }

  /** Fetch the ring and write what is new. Polls run one after another, so
   *  two never write the same record; the result is the whole ring. A
   *  fetch that fails (link down, timeout) rejects, logged at debug; the
   *  next poll catches up. */
  poll(): Promise<DeviceEvent[]> {
    const run = this.chain.then(() => this.once());
    this.chain = run.catch(() => {});
    return run;
  }

  private async once(): Promise<DeviceEvent[]> {
    let ring: DeviceEvent[];
    try {
      ring = await this.fetch();
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, "device event log not fetched");
      throw e;
    }
    this.polls++;
    this.merge(ring);
    return ring;
  }

  /** Write the records of `ring` (oldest first) newer than `last`. */
  merge(ring: DeviceEvent[]): void {
    if (!ring.length) return;
    const newest = ring[ring.length - 1].seq;
    if (newest < this.last) {
      this.log.warn(
        { lsn: newest, last_lsn: this.last },
        "device event log started again (journal wiped, or another device on this link): writing it from the start",
      );
      this.last = 0;
    }
    const fresh = ring.filter((e) => e.seq > this.last);
    if (!fresh.length) return;
    if (this.last > 0 && fresh[0].seq > this.last + 1) {
      this.log.warn(
        { from_lsn: this.last + 1, to_lsn: fresh[0].seq - 1, lost: fresh[0].seq - this.last - 1 },
        "device event records lost: the ring overflowed between fetches",
      );
    }
    for (const e of fresh) {
      const line = { lsn: e.seq, event: e.event, type: e.type, code: e.code, device_time_us: e.time_us };
      if (WARN_TYPES.has(e.type)) this.log.warn(line, "device event");
      else this.log.info(line, "device event");
      this.written++;
      this.onWrite?.(e);
    }
    this.last = fresh[fresh.length - 1].seq;
    if (!this.owned) return;
    try {
      writeFileSync(this.statePath, `${this.last}\n`);
    } catch (e) {
      this.log.warn(
        { err: (e as Error).message, file: this.statePath },
        "cannot keep the last device event LSN (records may be written again after a restart)",
      );
    }
  }
}
