// The 17 selftest checks, numbered and named as on the device (the core's
// probes use the same numbers). Each runs a real measurement on the target
// over the link; a check whose feature is not built yet says SKIP and why.
import { FrameType, Prio } from "../host/frame.ts";
import { statusName, Status } from "../host/status.ts";
import { nowUs } from "../host/clock.ts";
import type { Peer } from "../host/peer.ts";
import { runProbe, identify, text, num, PATIENT_MS } from "./probe.ts";
import type { Field } from "../host/core.ts";
import type { FaultyTransport } from "../host/transport/faulty.ts";
import { LINK_CHECKS } from "./checks-link.ts";
import type { LineQuality } from "./line-quality.ts";
import { rateBracket, rateVerdict, type ClockSample, type RateBracket, type RateVerdict } from "./clock-rate.ts";

export type CheckStatus = "PASS" | "FAIL" | "SKIP";
export type Metrics = Record<string, number | string | boolean | null>;
export interface CheckOutcome {
  status: CheckStatus;
  metrics: Metrics;
  detail: string;
}

export interface Manifest {
  build_id: number;
  wasm_crc32c: number;
  wasm_bytes: number;
  heap_base: number;
}
/** What the build says the target should be: the core's manifest, and for a
 *  firmware target the image the board measures (CRC of its flash image). */
export interface Expected {
  core: Manifest;
  image?: { crc32c: number; bytes: number; what: string };
}

export interface Context {
  peer: Peer;
  /** The host side of the link, where checks inject drops, duplicates, cuts. */
  faulty: FaultyTransport;
  /** Cut the target's power (or reset it); undefined where impossible. */
  powerCut?: () => Promise<string>;
  /** The handshake made at connection. */
  session?: { handshakeUs: number; resumed: boolean };
  target: "qemu" | "serial" | "sim";
  mode: "full" | "quick";
  expected: Expected;
  /** Nominal line rate in bytes/s (serial: baud / 10), null where none. */
  lineRate: number | null;
  identity?: Map<number, Field>;
  /** Noise the run puts on the line itself (--line-noise), for the report. */
  injected?: LineQuality["injected"];
}

export interface Check {
  n: number;
  id: string;
  name: string;
  run(ctx: Context): Promise<CheckOutcome>;
}

const pass = (metrics: Metrics, detail: string): CheckOutcome => ({ status: "PASS", metrics, detail });
const fail = (metrics: Metrics, detail: string): CheckOutcome => ({ status: "FAIL", metrics, detail });
const skip = (detail: string): CheckOutcome => ({ status: "SKIP", metrics: {}, detail });
const hex = (n: number) => "0x" + (n >>> 0).toString(16).padStart(8, "0");

async function probeCheck(
  ctx: Context,
  n: number,
  names: Record<number, string>,
  arg = 0n,
  ok = "probe passed on the target",
): Promise<CheckOutcome> {
  const r = await runProbe(ctx.peer, n, arg);
  const metrics: Metrics = {};
  for (const [tag, name] of Object.entries(names)) metrics[name] = Number(r.m.get(Number(tag)) ?? 0n);
  if (r.status === Status.ERR_NOT_BUILT) return skip("probes not built into this core (QN_FEAT_PROBES=0)");
  if (r.status !== Status.OK) return fail(metrics, `probe reported ${statusName(r.status)}`);
  return pass(metrics, ok);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const CHECKS: Check[] = [
  {
    n: 1,
    id: "boot.identity",
    name: "Boot identity",
    async run(ctx) {
      const id = (ctx.identity = await identify(ctx.peer));
      const metrics: Metrics = {
        version: text(id.get(1)),
        build_id: hex(num(id.get(2))),
        platform: text(id.get(3)),
        clock_hz: num(id.get(4)),
        wasm_mem_bytes: num(id.get(5)),
        heap_base: num(id.get(6)),
        protocol: num(id.get(10)),
        uptime_us: num(id.get(9)),
      };
      if (num(id.get(2)) !== ctx.expected.core.build_id) {
        return fail(
          metrics,
          `build id ${metrics.build_id} differs from the build manifest's ${hex(ctx.expected.core.build_id)}: the target runs another build (reflash it)`,
        );
      }
      if (ctx.target !== "sim" && !(num(id.get(4)) > 0)) return fail(metrics, "target reports no core clock");
      if (num(id.get(6)) > num(id.get(5))) return fail(metrics, "core's static data does not fit its linear memory");
      return pass(
        metrics,
        `${metrics.platform} runs QN ${metrics.version}, build ${metrics.build_id} as in the manifest`,
      );
    },
  },
  {
    n: 2,
    id: "core.integrity",
    name: "Core integrity",
    async run(ctx) {
      const id = ctx.identity ?? (await identify(ctx.peer));
      const crc = num(id.get(16)) >>> 0,
        len = num(id.get(17));
      const want = ctx.expected.image;
      const metrics: Metrics = {
        image_crc32c: hex(crc),
        image_bytes: len,
        expected_crc32c: want ? hex(want.crc32c) : null,
      };
      if (!want) return skip("no image manifest for this target (build the firmware with make PLATFORM=...)");
      if (len === 0)
        return fail(metrics, "the target has not reported its image CRC (still measuring, or firmware too old)");
      if (crc !== want.crc32c >>> 0 || len !== want.bytes)
        return fail(
          metrics,
          `${want.what} CRC ${hex(crc)} (${len} B) differs from the build's ${hex(want.crc32c)} (${want.bytes} B)`,
        );
      return pass(metrics, `${want.what} CRC-32C matches the build (${len} bytes)`);
    },
  },
  {
    n: 3,
    id: "mem.pools",
    name: "Memory pools",
    run: (ctx) =>
      probeCheck(
        ctx,
        3,
        { 3: "pools", 4: "blocks_exhausted", 5: "refusals" },
        0n,
        "every pool exhausted to a status (no trap) and restored; double free refused",
      ),
  },
  {
    n: 4,
    id: "mem.leak",
    name: "Leak scan",
    async run(ctx) {
      const names = { 3: "in_use", 4: "high_water", 5: "free_blocks", 6: "queued", 7: "bytes_in_flight" };
      const before = await runProbe(ctx.peer, 4);
      if (before.status === Status.ERR_NOT_BUILT) return skip("probes not built into this core");
      const rounds = ctx.mode === "full" ? 200 : 40;
      let garbage = 0;
      for (let i = 0; i < rounds; i++) {
        const size = (i * 37) % 200;
        await ctx.peer.request(FrameType.PING, {
          payload: new Uint8Array(size).fill(i & 0xff),
          timeoutMs: PATIENT_MS,
        });
        if (i % 10 === 0) {
          // Line noise and a corrupt frame: the core must drop them and free nothing twice.
          await ctx.peer.transport.write(Uint8Array.from([0x55, 0xaa, 0x13, 0x00, 0x07, 0x01, 0x02, 0x00]));
          garbage += 2;
        }
      }
      await sleep(50);
      const after = await runProbe(ctx.peer, 4);
      const metrics: Metrics = { rounds, garbage_frames: garbage };
      for (const [t, name] of Object.entries(names)) {
        metrics[`${name}_before`] = Number(before.m.get(Number(t)) ?? 0n);
        metrics[`${name}_after`] = Number(after.m.get(Number(t)) ?? 0n);
      }
      if (after.status !== Status.OK) return fail(metrics, `free lists inconsistent: ${statusName(after.status)}`);
      // The reply to the probe itself is queued when the probe runs: compare
      // like with like (both probes see the same state of their own reply).
      if (metrics.in_use_after !== metrics.in_use_before || metrics.free_blocks_after !== metrics.free_blocks_before) {
        return fail(
          metrics,
          `pools not back to baseline after ${rounds} rounds: ${metrics.in_use_after} blocks in use vs ${metrics.in_use_before}`,
        );
      }
      return pass(
        metrics,
        `${rounds} rounds of mixed traffic and ${garbage} bad frames: every pool back to baseline, high water ${metrics.high_water_after} blocks`,
      );
    },
  },
  {
    n: 5,
    id: "mem.stack",
    name: "Stack high-water",
    async run(ctx) {
      const id = await identify(ctx.peer);
      const used = num(id.get(13)),
        size = num(id.get(14));
      if (size === 0)
        return skip(
          ctx.target === "sim" ? "in-process target: no native stack to paint" : "target reports no stack figures",
        );
      const budget = Math.floor(size * 0.75);
      const metrics: Metrics = { stack_used_bytes: used, stack_size_bytes: size, budget_bytes: budget };
      if (used > budget)
        return fail(metrics, `stack high-water ${used} B over the budget ${budget} B (75% of ${size} B)`);
      return pass(metrics, `painted stack high-water ${used} B of ${size} B (budget ${budget} B)`);
    },
  },
  {
    n: 6,
    id: "ring.buffer",
    name: "Ring buffers",
    run: (ctx) =>
      probeCheck(
        ctx,
        6,
        { 3: "operations", 4: "index_wraps" },
        0n,
        "order, full/empty edges and the 2^32 wrap of free-running indices hold",
      ),
  },
  {
    n: 7,
    id: "frame.codec",
    name: "Frame codec",
    async run(ctx) {
      let bits = 0,
        rejected = 0;
      for (const len of [0n, 16n, 256n]) {
        const r = await runProbe(ctx.peer, 7, len);
        if (r.status === Status.ERR_NOT_BUILT) return skip("probes not built into this core");
        if (r.status !== Status.OK)
          return fail({ payload_len: Number(len) }, `probe reported ${statusName(r.status)} at payload ${len}`);
        bits += Number(r.m.get(4));
        rejected += Number(r.m.get(5));
      }
      // Known vectors across the real link: payloads with zeros and 0xFF
      // runs round-trip through COBS both ways.
      const vectors = [
        new Uint8Array(0),
        Uint8Array.of(0, 0, 0),
        new Uint8Array(254).fill(0xff),
        Uint8Array.from({ length: 256 }, (_, i) => i),
      ];
      for (const v of vectors) {
        const pong = await ctx.peer.request(FrameType.PING, { payload: v });
        if (Buffer.compare(Buffer.from(pong.payload), Buffer.from(v)) !== 0)
          return fail({ bits_flipped: bits }, `vector of ${v.length} bytes came back different`);
      }
      return pass(
        { bits_flipped: bits, rejected, link_vectors: vectors.length },
        `every one of ${bits} single-bit corruptions rejected by the CRC; ${vectors.length} vectors round-trip over the link`,
      );
    },
  },
  {
    n: 8,
    id: "payload.codecs",
    name: "Payload codecs",
    run: (ctx) =>
      probeCheck(
        ctx,
        8,
        { 3: "codecs", 4: "fields_compared" },
        0n,
        "each built codec round-trips its vector; protobuf matches its bytes exactly",
      ),
  },
  {
    n: 9,
    id: "clock.monotonic",
    name: "Clock",
    async run(ctx) {
      // Identity round trips for `span`, longer while the tightest pair of
      // them still cannot tell the rate to the tolerance (slow round trips
      // on a loaded host or a noisy line), up to ten times that.
      const span = ctx.mode === "full" ? 1000 : 300,
        limit = 10 * span;
      const tol = ctx.target === "serial" ? 0.02 : 0.1;
      const samples: ClockSample[] = [];
      let lost = 0,
        bracket: RateBracket | null = null,
        verdict: RateVerdict = "unsure";
      const t0 = Date.now();
      while (Date.now() - t0 < limit) {
        const sent = Number(nowUs());
        try {
          const id = await identify(ctx.peer);
          samples.push({ sent, received: Number(nowUs()), device: num(id.get(9)) });
        } catch {
          lost++; // no answer within its timeout: a gap in the samples, not a verdict
        }
        if (
          Date.now() - t0 >= span &&
          (bracket = rateBracket(samples)) &&
          (verdict = rateVerdict(bracket, tol)) !== "unsure"
        )
          break;
        await sleep(span / 20);
      }
      let backwards = 0;
      for (let i = 1; i < samples.length; i++) if (samples[i].device < samples[i - 1].device) backwards++;
      const r4 = (x: number) => (Number.isFinite(x) ? Number(x.toFixed(4)) : null);
      const metrics: Metrics = {
        samples: samples.length,
        lost_requests: lost,
        backwards_steps: backwards,
        rate_vs_host: bracket ? r4(bracket.rate) : null,
        rate_low: bracket ? r4(bracket.low) : null,
        rate_high: bracket ? r4(bracket.high) : null,
        tolerance: tol,
        span_ms: bracket ? Math.round(bracket.spanUs / 1000) : 0,
        rtt_used_us: bracket ? bracket.rttUs.map(Math.round).join(",") : null,
      };
      if (backwards) return fail(metrics, `device clock went back ${backwards} time(s)`);
      if (!bracket)
        return fail(
          metrics,
          `only ${samples.length} identity answer(s) in ${limit} ms (${lost} requests unanswered): cannot measure the clock`,
        );
      const within = `rate ${bracket.rate.toFixed(4)}x host, certainly within [${metrics.rate_low}, ${metrics.rate_high ?? "∞"}]`;
      if (verdict === "wrong")
        return fail(
          metrics,
          `device clock runs at ${bracket.rate.toFixed(3)}x the host clock (${within}; tolerance ±${tol * 100}%)`,
        );
      if (verdict === "unsure") {
        return fail(
          metrics,
          `could not measure the rate to ±${tol * 100}% in ${limit} ms: the fastest round trips (${metrics.rtt_used_us} µs) are too slow for the span, ${within} (the link or the host, not necessarily the clock)`,
        );
      }
      return pass(metrics, `monotonic over ${samples.length} samples; ${within} (±${tol * 100}% allowed)`);
    },
  },
  {
    n: 10,
    id: "id.generator",
    name: "ID generator",
    run: (ctx) =>
      probeCheck(
        ctx,
        10,
        { 3: "ids", 4: "clock_steps_back", 5: "ms_borrowed" },
        ctx.mode === "full" ? 20000n : 5000n,
        "ids strictly increasing and unique through backward clock steps and stalls",
      ),
  },
  {
    n: 12,
    id: "link.loopback_latency",
    name: "Loopback latency",
    async run(ctx) {
      const n = ctx.mode === "full" ? 200 : 50;
      const payload = new Uint8Array(32).fill(0x5a);
      // Warm-up: the first bytes into an emulator's pty can take a while.
      await ctx.peer.request(FrameType.PING, { payload, timeoutMs: 5000, attemptMs: 2500 });
      const rtt: number[] = [];
      const retriesBefore = ctx.peer.retries;
      for (let i = 0; i < n; i++) {
        const t0 = process.hrtime.bigint();
        await ctx.peer.request(FrameType.PING, { payload });
        rtt.push(Number(process.hrtime.bigint() - t0) / 1000);
      }
      rtt.sort((a, b) => a - b);
      const metrics: Metrics = {
        count: n,
        payload_bytes: 32,
        min_us: Math.round(rtt[0]),
        p50_us: Math.round(percentile(rtt, 50)),
        p99_us: Math.round(percentile(rtt, 99)),
        max_latency_us: Math.round(rtt[rtt.length - 1]),
        retries: ctx.peer.retries - retriesBefore,
      };
      return pass(
        metrics,
        `${n} round trips of a 32-byte ping: p50 ${metrics.p50_us} µs, p99 ${metrics.p99_us} µs, max ${metrics.max_latency_us} µs`,
      );
    },
  },
  {
    n: 13,
    id: "link.throughput",
    name: "Throughput",
    async run(ctx) {
      const span = ctx.mode === "full" ? 2000 : 500;
      const size = 200,
        window = 4;
      // QoS 0 echoes: a frame the line destroys (either way) never comes
      // back. One not back within a retransmission timeout is counted lost
      // and frees its window slot, so a loss costs that frame, not the run.
      const lossMs = ctx.peer.attemptMs;
      let sent = 0,
        got = 0,
        bad = 0,
        lost = 0,
        late = 0;
      const out = new Map<number, number>(); // sequence number -> sent at (ms)
      let stopping = false;
      const t0 = Date.now();
      let resolveIdle = () => {};
      const idle = new Promise<void>((r) => {
        resolveIdle = r;
      });
      const pump = () => {
        const now = Date.now();
        for (const [seq, at] of out)
          if (now - at >= lossMs) {
            out.delete(seq);
            lost++;
          }
        while (!stopping && out.size < window) {
          if (now - t0 >= span) {
            stopping = true;
            break;
          }
          // Its sequence number first, then a fill the echo must match.
          const payload = new Uint8Array(size).fill(sent & 0xff);
          new DataView(payload.buffer).setUint32(0, sent, true);
          ctx.peer.send(FrameType.DATA, { payload, channel: 13, prio: Prio.BULK });
          out.set(sent, now);
          sent++;
        }
        if (stopping && out.size === 0) resolveIdle();
      };
      ctx.peer.onFrame((f) => {
        if (f.type !== FrameType.DATA || f.channel !== 13 || f.payload.length < 4) return;
        const seq = new DataView(f.payload.buffer, f.payload.byteOffset, f.payload.length).getUint32(0, true);
        // Not outstanding: counted lost already (or never sent).
        if (!out.delete(seq)) {
          late++;
          return;
        }
        got++;
        if (f.payload.length !== size || f.payload.subarray(4).some((b) => b !== (seq & 0xff))) bad++;
        pump();
      });
      pump();
      const timer = setInterval(pump, 20);
      let guard: NodeJS.Timeout | undefined;
      const timeout = new Promise<"timeout">((r) => {
        guard = setTimeout(() => r("timeout"), span + lossMs + 5000);
      });
      const outcome = await Promise.race([idle, timeout]);
      clearTimeout(guard);
      clearInterval(timer);
      stopping = true;
      const secs = (Date.now() - t0) / 1000;
      const wireBytes = (size + 28 + 2) * got;
      const metrics: Metrics = {
        frames_sent: sent,
        frames_echoed: got,
        frames_lost: lost,
        frames_late: late,
        corrupted: bad,
        payload_bytes: size,
        window,
        loss_timeout_ms: lossMs,
        frames_per_s: Math.round(got / secs),
        payload_bytes_per_s: Math.round((got * size) / secs),
        wire_bytes_per_s_each_way: Math.round(wireBytes / secs),
        line_rate_bytes_per_s: ctx.lineRate,
        line_utilisation: ctx.lineRate ? Number((wireBytes / secs / ctx.lineRate).toFixed(3)) : null,
      };
      if (outcome === "timeout")
        return fail(metrics, `the check did not finish: ${out.size} of ${sent} echo frames still outstanding`);
      if (bad) return fail(metrics, `${bad} echoed frames differ from what was sent`);
      if (got === 0) return fail(metrics, `none of ${sent} echo frames came back`);
      return pass(
        metrics,
        `${got} 200-byte frames echoed in ${secs.toFixed(2)} s: ${metrics.frames_per_s} frames/s, ${metrics.payload_bytes_per_s} payload B/s` +
          (ctx.lineRate
            ? ` (${((metrics.line_utilisation as number) * 100).toFixed(1)}% of the line)`
            : " (no line rate on this target)") +
          (lost ? `; ${lost} of ${sent} lost (no echo within ${lossMs} ms: the line, or the target)` : ""),
      );
    },
  },
];

CHECKS.push(...LINK_CHECKS);
CHECKS.sort((a, b) => a.n - b.n);
