// The status every one of the 17 checks must give on each tested target,
// pinned by id: a check that starts to SKIP (or a SKIP that starts to run)
// fails the test instead of passing unnoticed.
export const CHECK_IDS = [
  "boot.identity",
  "core.integrity",
  "mem.pools",
  "mem.leak",
  "mem.stack",
  "ring.buffer",
  "frame.codec",
  "payload.codecs",
  "clock.monotonic",
  "id.generator",
  "link.handshake",
  "link.loopback_latency",
  "link.throughput",
  "qos.exactly_once",
  "journal.power_cut",
  "link.reconnect",
  "sched.emergency",
] as const;

/** [id, status] for all 17 checks in report order: PASS, except the ids in
 *  `skips`, which must SKIP. */
export function pinnedStatuses(skips: readonly string[] = []): [string, string][] {
  for (const s of skips)
    if (!(CHECK_IDS as readonly string[]).includes(s)) throw new Error(`pinnedStatuses: no check ${s}`);
  return CHECK_IDS.map((id) => [id, skips.includes(id) ? "SKIP" : "PASS"]);
}

/** A report's checks as [id, status], to compare with pinnedStatuses(). */
export function statuses(report: { tests: { id: string; status: string }[] }): [string, string][] {
  return report.tests.map((t) => [t.id, t.status]);
}
