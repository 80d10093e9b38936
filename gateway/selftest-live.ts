// `qnctl selftest <device>`: the 17 checks of qn_selftest (selftest/), run
// over the gateway's live link to the device. The link carries the
// device's production traffic and has no fault injector and no way to cut
// the device's power, so only the checks that neither disturb that traffic
// nor need the link to themselves run; every other one is reported SKIP
// with the reason, never dropped silently. The core's probes are written to
// be safe on a live link (assembly/probes.ts: scratch state or undone), so
// the probe checks run. The report has qn_selftest's format
// (selftest/report.schema.json; health_status INCOMPLETE when nothing
// failed but checks were skipped), next to the device id. For the full 17: qn_selftest on a link of
// its own (a maintenance window).
import type { Check, Context, CheckOutcome } from "../selftest/checks.ts";
import { runChecks, selectChecks, type Report } from "../selftest/run.ts";
import { coreManifest, imageManifest, firmwareDir } from "../selftest/targets.ts";
import { identify, text } from "../selftest/probe.ts";
import type { FaultyTransport } from "../host/transport/faulty.ts";
import type { DeviceLink } from "./device-link.ts";

/** Why each check that cannot run over the gateway's link is skipped. */
export const LIVE_SKIPS: Record<string, string> = {
  "mem.leak":
    "needs a quiet link: it compares the device's pool use before and after its own traffic, and the live traffic changes pool use in between",
  "link.handshake":
    "would drop the live session to time a resumed handshake; this session's own handshake is in the metrics",
  "link.throughput":
    "floods the link with echo frames for seconds: it would hold up the device's traffic and its echoes would reach the uplink routing",
  "qos.exactly_once":
    "injects frame drops and duplicates (the gateway's link has no fault injector) and delivers test messages to the device's application",
  "journal.power_cut": "resets the device halfway through QoS 2 traffic",
  "link.reconnect": "cuts the link and changes the session's timings",
  "sched.emergency":
    "loads the link with bulk echo frames (they would reach the uplink routing) and needs it to itself for its timings",
};

export class SelftestRequestError extends Error {}

/** The selftest's idea of a target, from the platform the device reports. */
function targetOf(platform: string): Context["target"] {
  if (platform === "sim") return "sim";
  if (platform === "mps2-an500") return "qemu";
  return "serial";
}

function skipped(c: Check, reason: string, link: DeviceLink): Check {
  const outcome: CheckOutcome = { status: "SKIP", metrics: {}, detail: `not over the gateway's live link: ${reason}` };
  if (c.id === "link.handshake" && link.handshake) {
    outcome.metrics = {
      handshake_us: link.handshake.handshakeUs,
      resumed: link.handshake.resumed,
      session_id: link.sessionId,
    };
  }
  return { ...c, run: async () => outcome };
}

/** Run the selftest on `link`'s device. `only`: ids or numbers, as
 *  qn_selftest --only; `mode`: quick (default here) or full. */
export async function liveSelftest(
  link: DeviceLink,
  o: { only?: string | null; mode?: string | null } = {},
): Promise<{ device: string; skipped_why: string; report: Report }> {
  const mode = (o.mode ?? "quick") as Context["mode"];
  if (mode !== "quick" && mode !== "full")
    throw new SelftestRequestError(`mode must be quick or full (got "${o.mode}")`);
  let wanted: Check[];
  try {
    wanted = selectChecks(o.only ?? undefined);
  } catch (e) {
    throw new SelftestRequestError((e as Error).message);
  }
  const peer = link.peer;
  if (!peer?.up) throw new Error(`${link.id}: not connected`);
  const id = await identify(peer);
  const platform = text(id.get(3)) || "unknown";
  const t = link.cfg.transport;
  const core = coreManifest();
  // What the build says the device should run: a board's flash image, or
  // the core module itself for an in-process device (as qn_selftest does).
  const image =
    platform === "sim"
      ? { crc32c: core.wasm_crc32c, bytes: core.wasm_bytes, what: "qn.wasm module" }
      : imageManifest(firmwareDir(platform));
  const ctx: Context = {
    peer,
    target: targetOf(platform),
    mode,
    expected: { core, image },
    lineRate: "serial" in t ? t.serial.baud / 10 : null,
    session: link.handshake,
    // No check that uses fault injection or a power cut runs here (see
    // LIVE_SKIPS); the context has neither.
    faulty: undefined as unknown as FaultyTransport,
    powerCut: undefined,
  };
  const checks = wanted.map((c) => (c.id in LIVE_SKIPS ? skipped(c, LIVE_SKIPS[c.id], link) : c));
  const port = "serial" in t ? t.serial.path : "fleet" in t ? `fleet ${t.fleet.listen}` : `tcp ${t.tcp.listen}`;
  const report = await runChecks(ctx, checks, () => {}, port);
  return {
    device: link.id,
    report,
    skipped_why: report.summary.skipped
      ? `${report.summary.skipped} of ${report.tests.length} checks skipped (each says why); ./qn_selftest on a link of its own runs all 17`
      : "",
  };
}
