// Goodput and latency against bit error rate on the QEMU board: the product
// release firmware (auth mode 2) under `-icount shift=0`, its UART a unix
// socket with the line-noise relay in front of it (host/noise-relay.ts;
// Node cannot open a pty master), a host Peer as the client. QoS 0 and 1:
// 32-byte messages the firmware's demo application echoes at the same QoS,
// latency publish to echo; QoS 2 (not echoed): latency publish to PUBCOMP,
// and the device's delivery count and digest (probe 14) prove every message
// arrived once and in order. Host wall-clock time: with -icount the device
// runs at a fixed instructions-per-virtual-ns, but QEMU emulates it at
// whatever speed the shared host gives it, so these figures compare rates
// within one run, not across machines.
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Qemu } from "../host/qemu.ts";
import { NoiseRelay } from "../host/noise-relay.ts";
import { tcpConnect } from "../host/transport/tcp.ts";
import { Peer } from "../host/peer.ts";
import { FrameType, Prio } from "../host/frame.ts";
import { Counter, QosStat, Status } from "../host/abi.ts";
import { readKeyFile } from "../host/key-file.ts";
import { ROOT } from "../host/status.ts";
import { runProbe } from "../selftest/probe.ts";
import { sessionOptions } from "../selftest/targets.ts";
import { crc32c } from "../tools/crc32c.mjs";
import { quantile } from "./lib.ts";

export const QEMU_ELF = join(ROOT, "build/mps2-an500/release/qn.elf");
const CHANNEL = 9;
/** The host's retransmission timeout floor against the emulator, ms. */
export const HOST_RTO_MIN_MS = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface QemuBerResult {
  ber: number;
  qos: 0 | 1 | 2;
  messages: number;
  delivered: number;
  lost: number;
  doubled: number;
  goodput: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  retransmissions: number;
  /** The host's retransmission timeout at the end, ms (assembly/rto.ts). */
  rto_ms: number;
  finished: boolean;
  /** QoS 2: what the device delivered is a prefix of what was sent, each
   *  message once and in order (its delivery count and digest). */
  exactly_once?: boolean;
}

/** The device's QoS 2 delivery figures (probe 14). */
async function q2State(peer: Peer) {
  const r = await runProbe(peer, 14, 0n, 20_000);
  if (r.status !== Status.OK) throw new Error(`qos probe: status ${r.status}`);
  return { delivered: Number(r.m.get(4) ?? 0n), digest: Number(r.m.get(5) ?? 0n) >>> 0 };
}

function chain(d: number, pid: number, payload: Uint8Array): number {
  const b = Buffer.alloc(8 + payload.length);
  b.writeUInt32LE(d >>> 0, 0);
  b.writeUInt32LE(pid >>> 0, 4);
  b.set(payload, 8);
  return crc32c(b) >>> 0;
}

/** One board, one rate: the three QoS levels in turn over one session. */
export async function runQemuBer(ber: number, messages: number, limitMs: number, seed = 1): Promise<QemuBerResult[]> {
  if (!existsSync(QEMU_ELF))
    throw new Error(`${QEMU_ELF} is missing (make PLATFORM=mps2-an500 TARGET=release firmware)`);
  const dir = mkdtempSync(join(tmpdir(), "qn-ber-"));
  const uart = join(dir, "uart");
  const q = await Qemu.start({ elf: QEMU_ELF, icount: true, serial: { socket: uart } });
  let relay: NoiseRelay | undefined;
  let peer: Peer | undefined;
  try {
    const noise = ber > 0 ? { ber, drop: ber, insert: ber, seed } : { seed };
    relay = await NoiseRelay.start({ device: { path: uart }, noise, waitMs: 5000 });
    const t = await tcpConnect(relay.address.slice(4));
    await q.cont();
    const key = readKeyFile(join(ROOT, "boards/dev-psk.hex"));
    // The host's timeout floor: under -icount on a shared machine the wall
    // time of a round trip through QEMU moves by tens of ms from one
    // message to the next, and the default floor fired on the clean line.
    peer = new Peer(t, { session: { ...sessionOptions(key, 2), rtoMinMs: HOST_RTO_MIN_MS } });
    await peer.request(FrameType.PING, { timeoutMs: 20_000, attemptMs: 2000 });
    await peer.connect(30_000);
    const out: QemuBerResult[] = [];
    for (const qos of [0, 1, 2] as const) out.push(await runLevel(peer, ber, qos, messages, limitMs));
    return out;
  } finally {
    await peer?.close().catch(() => {});
    await relay?.close();
    await q.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runLevel(peer: Peer, ber: number, qos: 0 | 1 | 2, n: number, limitMs: number): Promise<QemuBerResult> {
  const core = peer.core;
  const sentAt: number[] = [];
  const pids: number[] = [];
  const payloads: Uint8Array[] = [];
  const seen = new Uint8Array(n);
  const lat: number[] = [];
  let doubled = 0,
    delivered = 0,
    last = 0;
  const tag = (Date.now() & 0xffff) * 16 + qos;
  const retx0 = peer.core.counter(Counter.RETX);
  const onFrame = (f: { type: number; channel: number; payload: Uint8Array }) => {
    if (f.type !== FrameType.DATA || f.channel !== CHANNEL || f.payload.length < 8) return;
    const dv = new DataView(f.payload.buffer, f.payload.byteOffset);
    if (dv.getUint32(0, true) !== tag) return;
    const seq = dv.getUint32(4, true);
    if (seq >= n) return;
    if (seen[seq]) {
      doubled++;
      return;
    }
    seen[seq] = 1;
    delivered++;
    last = performance.now();
    lat.push(last - sentAt[seq]);
  };
  peer.onFrame(onFrame);
  const before = qos === 2 ? await q2State(peer) : undefined;
  const t0 = performance.now();
  let completed = 0;
  while (performance.now() - t0 < limitMs) {
    while (sentAt.length < n) {
      const p = new Uint8Array(32);
      const dv = new DataView(p.buffer);
      dv.setUint32(0, tag, true);
      dv.setUint32(4, sentAt.length, true);
      try {
        pids.push(peer.publish(CHANNEL, qos, p, Prio.BULK));
      } catch {
        break; // window or outbox full, or the session is down: later
      }
      payloads.push(p);
      sentAt.push(performance.now());
    }
    await sleep(1);
    if (qos === 2) {
      // Completions (PUBCOMP) in order: the ids at or below Q2_DONE.
      const done = core.qosStat(QosStat.Q2_DONE);
      for (; completed < pids.length && pids[completed] <= done; completed++) {
        lat.push(performance.now() - sentAt[completed]);
        last = performance.now();
      }
      if (completed === n) break;
    } else if (delivered === n) break;
    else if (qos === 0 && sentAt.length === n && performance.now() - sentAt[n - 1] > 1000) break;
  }
  let exactly: boolean | undefined;
  if (qos === 2) {
    await sleep(200);
    // The device delivered a prefix of what was sent, each once, in order
    // (its digest chains them); completions may lag its deliveries.
    const after = await q2State(peer);
    const got = after.delivered - before!.delivered;
    let d = before!.digest;
    for (let i = 0; i < Math.min(got, pids.length); i++) d = chain(d, pids[i], payloads[i]);
    exactly = got >= completed && got <= pids.length && after.digest === d;
    delivered = got;
  }
  lat.sort((a, b) => a - b);
  return {
    ber,
    qos,
    messages: n,
    delivered,
    lost: n - delivered,
    doubled,
    // QoS 2: completed exchanges (PUBCOMP) per second; 0/1: echoes.
    goodput:
      (qos === 2 ? completed : delivered) && last > t0 ? (qos === 2 ? completed : delivered) / ((last - t0) / 1000) : 0,
    p50_ms: quantile(lat, 0.5),
    p99_ms: quantile(lat, 0.99),
    max_ms: lat.length ? lat[lat.length - 1] : NaN,
    retransmissions: peer.core.counter(Counter.RETX) - retx0,
    rto_ms: core.qosStat(QosStat.RTO_US) / 1000,
    finished: delivered === n,
    exactly_once: exactly,
  };
}
