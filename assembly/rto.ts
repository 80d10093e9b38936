// The QoS 1/2 retransmission timeout from measured round trips, as TCP's
// (RFC 6298): a smoothed round-trip time SRTT and its variation RTTVAR, the
// timeout SRTT + max(G, 4 RTTVAR) held within the configured bounds, Karn's
// rule (a message sent more than once gives no sample, since its ack may
// answer either copy; qos.ts keeps that flag per message), and the timeout
// doubled at each expiry until a new sample arrives. Before the first
// sample the timeout is the configured initial one (CFG_RETX_MS). A serial
// line's round trip depends on its baud rate and on what is queued ahead
// of a frame, so a fixed timeout is either too slow for a fast line (every
// loss stalls the window) or fires early on a slow one. The round trip
// counts from when a message is queued, so it grows while a window fills
// the line and SRTT lags it: the min bound (CFG_RTO_MIN_MS) is what keeps
// that ramp from firing the timer, as TCP's floor does.
import { cfg, CFG_RETX_MS, CFG_RTO_MIN_MS, CFG_RTO_MAX_MS } from "./session";

/** Clock granularity G of RFC 6298, µs: the core's timers run each tick,
 *  which shells call at least every millisecond. */
const GRANULARITY_US: i64 = 1000;
/** Doublings of the timeout at most (2^6 = 64x before the max bound). */
const MAX_BACKOFF: u32 = 6;

let srtt: i64 = 0; // µs; 0 until the first sample
let rttvar: i64 = 0; // µs
let backoff: u32 = 0;
let samples: u32 = 0;

export function rto_reset(): void {
  srtt = 0;
  rttvar = 0;
  backoff = 0;
  samples = 0;
}

function clamp(us: i64): i64 {
  const lo = <i64>cfg(CFG_RTO_MIN_MS) * 1000,
    hi = <i64>cfg(CFG_RTO_MAX_MS) * 1000;
  return us < lo ? lo : us > hi ? hi : us;
}

/** A round trip measured on a message sent once (µs). */
export function rto_sample(rttUs: i64): void {
  if (rttUs < 0) return;
  if (samples == 0) {
    srtt = rttUs;
    rttvar = rttUs >> 1;
  } else {
    const d = srtt > rttUs ? srtt - rttUs : rttUs - srtt;
    rttvar = (3 * rttvar + d) >> 2; // beta = 1/4
    srtt = (7 * srtt + rttUs) >> 3; // alpha = 1/8
  }
  samples++;
  backoff = 0;
}

/** The timer expired and the window was resent: wait twice as long next
 *  time (up to the max bound) until a fresh sample says otherwise. */
export function rto_backoff(): void {
  if (backoff < MAX_BACKOFF) backoff++;
}

/** An ack released messages: the peer is receiving again, so the timeout
 *  stops doubling even when Karn's rule left no sample (every message in
 *  the window resent); without this a lossy line whose windows are all
 *  resent keeps the longest timeout, and goes quiet between attempts. */
export function rto_progress(): void {
  backoff = 0;
}

/** The timeout now, µs. */
export function rto_us(): i64 {
  const base = samples == 0 ? <i64>cfg(CFG_RETX_MS) * 1000 : srtt + (4 * rttvar > GRANULARITY_US ? 4 * rttvar : GRANULARITY_US);
  return clamp(clamp(base) << backoff);
}

export function rto_srtt_us(): i64 { return srtt; }
export function rto_rttvar_us(): i64 { return rttvar; }
export function rto_samples(): u32 { return samples; }
