// The core's event counters of one device link, turned into Prometheus
// counters: a reconnect gives the link a new core whose counters start
// again at 0, and a core counter wraps at 2^32, so the link adds what
// changed since its last read (modulo 2^32, or all of it for a new core)
// to the `_total` counters, which then only ever grow.
import type { QnCore } from "../host/core.ts";
import { Counter } from "../host/frame.ts";
import type { CoreCounterKey, Metrics } from "./metrics.ts";

const IDS: Record<CoreCounterKey, Counter> = {
  framesIn: Counter.FRAMES_IN,
  framesOut: Counter.FRAMES_OUT,
  crcErrors: Counter.ERR_CRC,
  authFailures: Counter.AUTH_FAIL,
  retransmissions: Counter.RETX,
};
const KEYS = Object.keys(IDS) as CoreCounterKey[];

export class LinkCounters {
  private core?: QnCore;
  /** The last values read, of the core read last (kept after it is gone). */
  last?: Record<CoreCounterKey, number>;

  constructor(
    private readonly metrics: Metrics,
    private readonly id: string,
  ) {}

  /** The core read last is started again (init) for the next connection:
   *  its next values are new counts from 0. */
  restart(): void {
    this.core = undefined;
  }

  /** Read the core's counters and add what changed to the `_total` counters. */
  read(core: QnCore): void {
    const now = {} as Record<CoreCounterKey, number>;
    const labels = { device: this.metrics.device(this.id) };
    for (const k of KEYS) {
      const v = core.counter(IDS[k]) >>> 0;
      now[k] = v;
      const delta = core === this.core && this.last ? (v - this.last[k]) >>> 0 : v;
      if (delta) this.metrics.core[k].inc(labels, delta);
    }
    this.core = core;
    this.last = now;
  }
}
