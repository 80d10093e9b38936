// Goodput and latency against bit error rate on the in-process link: two
// cores (client publishing, server receiving; auth mode 2, real handshake,
// frame MACs) through the protocol harness's byte-level noisy wire
// (test/protocol/harness.ts: a simulated clock in 1 ms steps, each direction
// paced to a 921600-baud UART, seeded LineNoise from host/line-noise.ts).
// Simulated time makes the figures independent of the machine's load and
// repeatable from their seed. A message is 32 bytes carrying its sequence
// number; latency is publish call to the receiving application's pop.
import { Link } from "../test/protocol/harness.ts";
import { Counter, QosStat, Role } from "../host/abi.ts";
import { quantile } from "./lib.ts";

/** 921600 baud 8N1, bytes per simulated ms. */
export const BYTES_PER_MS = 92.16;
export const PAYLOAD = 32;

export interface BerCase {
  /** Bit flip probability per bit; bytes are dropped and inserted with the
   *  same probability per byte. */
  ber: number;
  qos: 0 | 1 | 2;
  messages: number;
  seed: number;
  retxMs: number;
}

export interface BerResult extends BerCase {
  delivered: number;
  lost: number;
  doubled: number;
  /** Messages per simulated second, first publish to last delivery. */
  goodput: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  /** Mean wire bytes of a frame each way (data, acknowledgements). */
  data_frame_bytes: number;
  ack_frame_bytes: number;
  frames_damaged: number;
  retransmissions: number;
  sessions_lost: number;
  sim_ms: number;
  finished: boolean;
  /** The sender's retransmission timer at the end (assembly/rto.ts). */
  rto: { rto_us: number; srtt_us: number; rttvar_us: number; samples: number };
}

export function runBerCase(c: BerCase): BerResult {
  const opts = {
    heartbeatMs: 100,
    misses: 3,
    handshakeMs: 300,
    retxMs: c.retxMs,
    backoffBaseMs: 20,
    backoffCapMs: 500,
  };
  const noise = c.ber > 0 ? { ber: c.ber, drop: c.ber, insert: c.ber, seed: c.seed } : undefined;
  const link = new Link({ role: Role.CLIENT, ...opts }, { role: Role.SERVER, ...opts }, {}, c.seed, noise);
  link.bytesPerMs = BYTES_PER_MS;
  link.connect(30_000);
  const a = link.a,
    b = link.b;
  const base = {
    aIn: a.total(Counter.FRAMES_IN),
    aBytes: a.total(Counter.BYTES_IN),
    bIn: b.total(Counter.FRAMES_IN),
    bBytes: b.total(Counter.BYTES_IN),
    retx: a.total(Counter.RETX),
    down: a.total(Counter.LINK_DOWN),
  };
  const damaged = (e: typeof a) =>
    e.total(Counter.ERR_CRC) +
    e.total(Counter.ERR_COBS) +
    e.total(Counter.ERR_TRUNCATED) +
    e.total(Counter.ERR_OVERSIZE) +
    e.total(Counter.ERR_VERSION);
  const damaged0 = damaged(a) + damaged(b);
  const sentAt: number[] = [];
  const seen = new Uint8Array(c.messages);
  const lat: number[] = [];
  let doubled = 0,
    got = 0,
    seenCount = 0,
    last = 0;
  const t0 = link.t;
  const payload = new Uint8Array(PAYLOAD);
  const dv = new DataView(payload.buffer);
  // QoS 0 has no acknowledgement: the run ends a while after the last
  // publish. QoS 1/2 end when every message is delivered and the sender's
  // window is empty (every acknowledgement back).
  const limit = 120_000;
  let finished = false;
  while (link.t - t0 < limit) {
    while (sentAt.length < c.messages) {
      dv.setUint32(0, sentAt.length, true);
      if (a.publish(1, c.qos, payload) < 0) break;
      sentAt.push(link.t);
    }
    link.step();
    for (; got < b.got.length; got++) {
      const seq = new DataView(b.got[got].payload.buffer, b.got[got].payload.byteOffset).getUint32(0, true);
      if (seen[seq]) {
        doubled++;
        continue;
      }
      seen[seq] = 1;
      seenCount++;
      lat.push(link.t - sentAt[seq]);
      last = link.t;
    }
    if (sentAt.length === c.messages) {
      if (c.qos === 0 && link.t - sentAt[c.messages - 1] > 200) {
        finished = true;
        break;
      }
      if (c.qos > 0 && seenCount === c.messages && a.core.qosStat(QosStat.IN_FLIGHT) === 0) {
        finished = true;
        break;
      }
    }
  }
  lat.sort((x, y) => x - y);
  const frames = (n: number, n0: number) => Math.max(1, n - n0);
  return {
    ...c,
    delivered: seenCount,
    lost: c.messages - seenCount,
    doubled,
    goodput: seenCount ? (seenCount / Math.max(1, last - t0)) * 1000 : 0,
    p50_ms: quantile(lat, 0.5),
    p99_ms: quantile(lat, 0.99),
    max_ms: lat.length ? lat[lat.length - 1] : NaN,
    data_frame_bytes: (b.total(Counter.BYTES_IN) - base.bBytes) / frames(b.total(Counter.FRAMES_IN), base.bIn),
    ack_frame_bytes: (a.total(Counter.BYTES_IN) - base.aBytes) / frames(a.total(Counter.FRAMES_IN), base.aIn),
    frames_damaged: damaged(a) + damaged(b) - damaged0,
    retransmissions: a.total(Counter.RETX) - base.retx,
    sessions_lost: a.total(Counter.LINK_DOWN) - base.down,
    sim_ms: link.t - t0,
    finished,
    rto: {
      rto_us: a.core.qosStat(QosStat.RTO_US),
      srtt_us: a.core.qosStat(QosStat.SRTT_US),
      rttvar_us: a.core.qosStat(QosStat.RTTVAR_US),
      samples: a.core.qosStat(QosStat.RTT_SAMPLES),
    },
  };
}
