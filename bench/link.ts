// Link latency between the host and the QEMU board over the pty: PING and
// 32-byte QoS 0 DATA echo round trips (min/p50/p99/max), and the emergency
// frame under bulk traffic (the method of selftest check 17, plus probe
// 17's "worst bytes ahead"). Real-time QEMU (no -icount), product firmware
// (build/mps2-an500/release/qn.elf, auth mode 2, a session with the public
// dev key). QEMU is killed on every exit path.
// Usage: node --import tsx bench/link.ts [--quick]   (prints JSON)
import { readFileSync } from "node:fs";
import { Qemu } from "../host/qemu.ts";
import { SerialTransport } from "../host/transport/serial.ts";
import { Peer } from "../host/peer.ts";
import { FrameType, Prio } from "../host/frame.ts";
import { runProbe } from "../selftest/probe.ts";
import { quantile, machine } from "./lib.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const us = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1000;

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x);
  return {
    n: s.length,
    min_us: r(s[0]),
    p50_us: r(quantile(s, 0.5)),
    p99_us: r(quantile(s, 0.99)),
    max_us: r(s[s.length - 1]),
  };
}

function devKey(): Uint8Array {
  const hex = readFileSync("boards/dev-psk.hex", "utf8")
    .split("\n")
    .filter((l) => !l.startsWith("#"))
    .join("")
    .replace(/\s+/g, "");
  return Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
}

/** Boot `elf` in real-time QEMU, open a session over its pty, run `f`;
 *  QEMU is stopped on every exit path. */
async function withBoard<T>(elf: string, f: (peer: Peer) => Promise<T>): Promise<T> {
  const q = await Qemu.start({ elf });
  let peer: Peer | undefined;
  try {
    const t = new SerialTransport({ path: q.pty });
    await t.open();
    peer = new Peer(t, { session: { auth: 2, key: devKey(), heartbeatMs: 1000 } });
    await q.cont();
    // QEMU's first host-to-device byte can take ~1 s (it polls the pty).
    await peer.request(FrameType.PING, { payload: Uint8Array.of(1), timeoutMs: 5000, attemptMs: 2000 });
    await peer.connect(5000);
    return await f(peer);
  } finally {
    await peer?.close().catch(() => {});
    await q.stop();
  }
}

/** The line rate of the paced bench firmware (bench.mk builds it into
 *  build/paced with QN_UART_PACE_BAUD): below the ~10 KB/s QEMU moves
 *  host -> device, so the device's echoes back up as on a busy wire. */
export const PACED_BAUD = 57600;
export const PACED_ELF = "build/paced/mps2-an500/release/qn.elf";

export async function runLink(opts: { quick?: boolean; elf?: string; pacedElf?: string } = {}) {
  const N = opts.quick ? 100 : 500,
    ROUNDS = opts.quick ? 10 : 30;
  const latency = await withBoard(opts.elf ?? "build/mps2-an500/release/qn.elf", async (peer) => {
    const ping: number[] = [],
      echo: number[] = [];
    const p16 = new Uint8Array(16).fill(0x5a);
    for (let i = 0; i < N; i++) {
      const t0 = process.hrtime.bigint();
      await peer.request(FrameType.PING, { payload: p16, prio: Prio.CONTROL });
      ping.push(us(t0));
    }
    let waiter: (() => void) | null = null;
    peer.onFrame((f) => {
      if (f.type === FrameType.DATA && f.channel === 5 && waiter) {
        const w = waiter;
        waiter = null;
        w();
      }
    });
    const d32 = new Uint8Array(32).fill(0x33);
    for (let i = 0; i < N; i++) {
      const got = new Promise<void>((res, rej) => {
        waiter = res;
        setTimeout(() => rej(new Error("QoS 0 echo lost")), 2000);
      });
      const t0 = process.hrtime.bigint();
      peer.publish(5, 0, d32, Prio.BULK);
      await got;
      echo.push(us(t0));
    }
    return { ping, echo };
  });
  // Emergency under bulk (selftest check 17's method), on the paced line.
  const emergencyRun = await withBoard(opts.pacedElf ?? PACED_ELF, async (peer) => {
    const before = await runProbe(peer, 17);
    const bulk = new Uint8Array(200).fill(0xb0);
    const emergency: number[] = [],
      bulkPing: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      for (let k = 0; k < 6; k++) peer.send(FrameType.DATA, { payload: bulk, channel: 17, prio: Prio.BULK });
      const t0 = process.hrtime.bigint();
      const e = peer.request(FrameType.PING, { payload: Uint8Array.of(0xee), prio: Prio.EMERGENCY, timeoutMs: 10_000 });
      const b = peer.request(FrameType.PING, { payload: Uint8Array.of(0xbb), prio: Prio.BULK, timeoutMs: 10_000 });
      await e;
      emergency.push(us(t0));
      await b;
      bulkPing.push(us(t0));
      await sleep(300); // the bulk echoes drain before the next round
    }
    const after = await runProbe(peer, 17);
    const g = (r: typeof after, k: number) => Number(r.m.get(k) ?? 0n);
    return {
      emergency,
      bulkPing,
      started: g(after, 3) - g(before, 3),
      worstAhead: g(after, 4),
      cut: g(after, 6) - g(before, 6),
    };
  });
  const { emergency, bulkPing } = emergencyRun;
  return {
    machine: machine(),
    setup:
      "real-time QEMU (no -icount) mps2-an500, product release firmware (auth mode 2, frame MACs), host Peer over the pty; round trip = request written to reply handled in Node",
    ping_16B: stats(latency.ping),
    qos0_echo_32B: stats(latency.echo),
    emergency_under_bulk: {
      rounds: ROUNDS,
      firmware: `the product firmware built with QN_UART_PACE_BAUD=${PACED_BAUD} (${PACED_ELF}): its UART sends one byte per 10 bit times at ${PACED_BAUD} baud`,
      bulk_per_round:
        "6 DATA frames of 200 B at bulk priority (echoed by the firmware at bulk priority), then an emergency PING and a bulk PING",
      emergency_ping: stats(emergency),
      bulk_ping: stats(bulkPing),
      device_emergency_frames_started: emergencyRun.started,
      device_worst_bytes_ahead_of_emergency: emergencyRun.worstAhead,
      device_bulk_frames_cut: emergencyRun.cut,
      caveat: `QEMU moves ~10 KB/s host->device, so the host-side times include the emulator and the pty; the device's line is paced at ${PACED_BAUD} baud so its echoes queue up. The device-side figure counts bytes the core sent ahead of an emergency frame once it was queued; bytes already in the board's transmit ring are not in it (the bulk PING's time shows them).`,
    },
    samples_us: {
      ping_16B: latency.ping.map(Math.round),
      qos0_echo_32B: latency.echo.map(Math.round),
      emergency: emergency.map(Math.round),
      bulk_ping: bulkPing.map(Math.round),
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runLink({ quick: process.argv.includes("--quick") });
  const { samples_us, ...rest } = r;
  console.log(JSON.stringify(rest, null, 2));
  process.exit(0);
}
