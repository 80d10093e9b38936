// The line's quality as the selftest measured it, apart from the software's
// health: frames each receiver rejected as damaged (CRC, COBS, length,
// version), frames and bytes it took in, the retries the host made and the
// sessions lost, and a bit error rate estimated from the frame error rate.
// The host's side comes from its own core's counters, the device's from the
// QoS probe (14). With these the report can say when a failure is the
// line's and not QN's.
import { Counter } from "../host/abi.ts";
import type { Peer } from "../host/peer.ts";
import type { NoiseOptions, NoiseStats } from "../host/line-noise.ts";
import { runProbe } from "./probe.ts";

/** What one receiver saw. */
export interface RxFigures {
  frames_ok: number;
  frames_damaged: number;
  bytes: number;
}

export interface LineSnapshot {
  host: RxFigures;
  /** null when the device could not be asked (no answer on a bad line). */
  device: RxFigures | null;
  retries: number;
  retransmissions: number;
  sessionsLost: number;
}

/** Frame error rate above which the line, not the software, is the first
 *  suspect for a failure; below CLEAN_FER the line is called clean. */
export const CLEAN_FER = 0.001;
export const VERY_NOISY_FER = 0.2;

export interface DirectionQuality extends RxFigures {
  frame_error_rate: number | null;
  estimated_ber: number | null;
}

export interface LineQuality {
  /** Host to device (the device's receiver), device to host (the host's). */
  to_device: DirectionQuality | null;
  to_host: DirectionQuality;
  /** Both directions pooled. */
  estimated_ber: number | null;
  /** Requests the host sent again after a lost or garbled reply. */
  retries: number;
  /** QoS 1/2 retransmissions by the host's core. */
  retransmissions: number;
  sessions_lost: number;
  verdict: "clean" | "noisy" | "very noisy";
  /** Noise this run put on the line itself (--line-noise), if any. */
  injected?: { how: string; to_device: NoiseStats; to_host: NoiseStats } & NoiseOptions;
}

/** "1e-4" or "ber=1e-4,drop=1e-5,insert=1e-5,seed=3". */
export function parseNoise(spec: string): NoiseOptions {
  const o: NoiseOptions = {};
  for (const part of spec.split(",").map((s) => s.trim())) {
    const [k, v] = part.includes("=") ? part.split("=", 2) : ["ber", part];
    const n = Number(v);
    if (k === "seed") {
      if (!Number.isInteger(n) || n < 0) throw new Error(`--line-noise: seed must be a whole number (got ${v})`);
      o.seed = n;
    } else if (k === "ber" || k === "drop" || k === "insert") {
      if (v === "" || !(n >= 0 && n <= 1))
        throw new Error(`--line-noise: ${k} must be a probability in [0, 1] (got ${v})`);
      o[k] = n;
    } else throw new Error(`--line-noise: unknown part "${part}" (ber=, drop=, insert=, seed=)`);
  }
  return o;
}

export function hostRx(peer: Peer): RxFigures {
  const c = (id: Counter) => peer.core.counter(id);
  return {
    frames_ok: c(Counter.FRAMES_IN),
    frames_damaged:
      c(Counter.ERR_CRC) +
      c(Counter.ERR_COBS) +
      c(Counter.ERR_TRUNCATED) +
      c(Counter.ERR_OVERSIZE) +
      c(Counter.ERR_VERSION),
    bytes: c(Counter.BYTES_IN),
  };
}

/** The device's receive figures through the QoS probe; null if it does not
 *  answer in time (on a very bad line, say) or does not report them. */
export async function deviceRx(peer: Peer, timeoutMs = 3000): Promise<RxFigures | null> {
  try {
    const r = await runProbe(peer, 14, 0n, timeoutMs);
    if (!r.m.has(15)) return null;
    return { frames_damaged: Number(r.m.get(14)), frames_ok: Number(r.m.get(15)), bytes: Number(r.m.get(16) ?? 0n) };
  } catch {
    return null;
  }
}

export async function snapshot(peer: Peer): Promise<LineSnapshot> {
  return {
    host: hostRx(peer),
    device: await deviceRx(peer),
    retries: peer.retries,
    retransmissions: peer.core.counter(Counter.RETX),
    sessionsLost: peer.core.counter(Counter.LINK_DOWN),
  };
}

const diff = (a: RxFigures, b: RxFigures): RxFigures => ({
  frames_ok: (b.frames_ok - a.frames_ok) >>> 0,
  frames_damaged: (b.frames_damaged - a.frames_damaged) >>> 0,
  bytes: (b.bytes - a.bytes) >>> 0,
});

/** Bit error rate from frame errors: a frame of L bits survives with
 *  probability (1 - ber)^L, so ber = 1 - (1 - fer)^(1/L), with L the mean
 *  received frame length. Frames whose delimiter was destroyed merge with
 *  the next and count once: an underestimate on very bad lines. */
export function estimateBer(r: RxFigures): number | null {
  const frames = r.frames_ok + r.frames_damaged;
  if (frames === 0 || r.bytes === 0) return null;
  const fer = r.frames_damaged / frames;
  const bits = (8 * r.bytes) / frames;
  return fer >= 1 ? null : 1 - (1 - fer) ** (1 / bits);
}

function direction(r: RxFigures): DirectionQuality {
  const frames = r.frames_ok + r.frames_damaged;
  return {
    ...r,
    frame_error_rate: frames ? r.frames_damaged / frames : null,
    estimated_ber: estimateBer(r),
  };
}

export function lineQuality(before: LineSnapshot, after: LineSnapshot): LineQuality {
  const host = diff(before.host, after.host);
  const dev = before.device && after.device ? diff(before.device, after.device) : null;
  const pooled: RxFigures = dev
    ? {
        frames_ok: host.frames_ok + dev.frames_ok,
        frames_damaged: host.frames_damaged + dev.frames_damaged,
        bytes: host.bytes + dev.bytes,
      }
    : host;
  const frames = pooled.frames_ok + pooled.frames_damaged;
  const fer = frames ? pooled.frames_damaged / frames : 0;
  return {
    to_device: dev && direction(dev),
    to_host: direction(host),
    estimated_ber: estimateBer(pooled),
    retries: after.retries - before.retries,
    retransmissions: (after.retransmissions - before.retransmissions) >>> 0,
    sessions_lost: (after.sessionsLost - before.sessionsLost) >>> 0,
    verdict: fer < CLEAN_FER ? "clean" : fer < VERY_NOISY_FER ? "noisy" : "very noisy",
  };
}

/** One sentence for the text report. */
export function describeLine(q: LineQuality): string {
  const pct = (d: DirectionQuality | null) =>
    d?.frame_error_rate == null ? "unknown" : `${(100 * d.frame_error_rate).toFixed(2)} %`;
  const ber = q.estimated_ber == null ? "unknown" : q.estimated_ber.toExponential(1);
  return (
    `line: ${q.verdict}; frames damaged to device ${q.to_device?.frames_damaged ?? "?"} (${pct(q.to_device)}), ` +
    `to host ${q.to_host.frames_damaged} (${pct(q.to_host)}); estimated BER ${ber}; ` +
    `${q.retries} request retries, ${q.retransmissions} retransmissions, ${q.sessions_lost} sessions lost`
  );
}
