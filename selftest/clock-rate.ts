// The rate of a device's clock against the host's, from identity round
// trips. Each sample brackets the device's timestamp between the host times
// the request was sent and its answer received; the device stamped it at
// some instant in between. Two samples then bound the rate:
//
//   host:   s_i ──[d_i]── r_i  ..........................  s_j ──[d_j]── r_j
//   rate ∈ [ (d_j - d_i) / (r_j - s_i) ,  (d_j - d_i) / (s_j - r_i) ]
//
// A slow round trip (a loaded host, a retried request) only widens its own
// bracket; the pair with the tightest bracket relative to its span is used,
// so one late answer cannot tilt the estimate as a midpoint would.

export interface ClockSample {
  /** Host time the request was sent (µs, host monotonic clock). */
  sent: number;
  /** Host time its answer arrived (µs). */
  received: number;
  /** The device's clock in its answer (µs since its boot). */
  device: number;
}

export interface RateBracket {
  /** Point estimate: device span over the span of the round-trip midpoints. */
  rate: number;
  /** The device's rate is certainly within [low, high] (high may be Infinity). */
  low: number;
  high: number;
  /** Host span between the two samples used (µs), and their round trips. */
  spanUs: number;
  rttUs: [number, number];
}

/** The tightest rate bracket over all pairs of samples, or null with fewer
 *  than two samples. Samples are in the order they were taken. */
export function rateBracket(samples: readonly ClockSample[]): RateBracket | null {
  let best: RateBracket | null = null;
  let bestWidth = Infinity;
  for (let i = 0; i < samples.length; i++) {
    for (let j = i + 1; j < samples.length; j++) {
      const a = samples[i],
        b = samples[j];
      const span = (b.sent + b.received) / 2 - (a.sent + a.received) / 2;
      if (!(span > 0)) continue;
      const rttA = a.received - a.sent,
        rttB = b.received - b.sent;
      // Relative width of the bracket: both round trips against the span.
      const width = (rttA + rttB) / span;
      if (width >= bestWidth) continue;
      const dev = b.device - a.device;
      const inner = b.sent - a.received;
      bestWidth = width;
      best = {
        rate: dev / span,
        low: dev / (b.received - a.sent),
        high: inner > 0 ? dev / inner : Infinity,
        spanUs: span,
        rttUs: [rttA, rttB],
      };
    }
  }
  return best;
}

export type RateVerdict = "ok" | "wrong" | "unsure";

/** "ok" when the bracket is narrower than the tolerance and reaches into
 *  [1 - tol, 1 + tol]; "wrong" when it lies wholly outside (the device's
 *  clock runs at another rate, whatever the round trips did); "unsure" when
 *  it is too wide to tell yet (take more samples or a longer span). */
export function rateVerdict(b: RateBracket, tol: number): RateVerdict {
  if (b.low > 1 + tol || b.high < 1 - tol) return "wrong";
  return b.high - b.low <= tol ? "ok" : "unsure";
}
