// Checks 11 and 14-17: the protocol on the real target. Handshake times,
// exactly-once QoS 2 with injected losses, a power cut mid-exchange, a cut
// link and the reconnect schedule, and an emergency frame under bulk load.
import { FrameType, Prio, Counter } from "../host/frame.ts";
import { Status, QnError } from "../host/status.ts";
import { ConfigKey, QosStat, SessionStat } from "../host/abi.ts";
import { runProbe } from "./probe.ts";
import { rng } from "../host/rng.ts";
import type { Check, Context, CheckOutcome, Metrics } from "./checks.ts";
import { crc32c } from "../tools/crc32c.mjs";

const pass = (metrics: Metrics, detail: string): CheckOutcome => ({ status: "PASS", metrics, detail });
const fail = (metrics: Metrics, detail: string): CheckOutcome => ({ status: "FAIL", metrics, detail });
const skip = (detail: string): CheckOutcome => ({ status: "SKIP", metrics: {}, detail });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) return false;
    await sleep(2);
  }
  return true;
}

/** The target's QoS figures (probe 14). */
async function qosState(ctx: Context) {
  const r = await runProbe(ctx.peer, 14);
  if (r.status !== Status.OK) throw new QnError(r.status, "qos probe");
  const g = (t: number) => Number(r.m.get(t) ?? 0n);
  return {
    expect: g(3),
    delivered: g(4),
    digest: g(5) >>> 0,
    dups: g(6),
    replays: g(7),
    retx: g(8),
    gaps: g(9),
    generation: g(10),
    writes: g(11),
    torn: g(12),
    authFail: g(13),
  };
}

/** Digest the target must reach after delivering `msgs` exactly once, in
 *  order, starting from `d`: crc32c(digest LE || packet id LE || payload). */
function chain(d: number, msgs: { pid: number; payload: Uint8Array }[]): number {
  for (const m of msgs) {
    const b = Buffer.alloc(8 + m.payload.length);
    b.writeUInt32LE(d >>> 0, 0);
    b.writeUInt32LE(m.pid >>> 0, 4);
    b.set(m.payload, 8);
    d = crc32c(b);
  }
  return d >>> 0;
}

/** Publish QoS 2 messages, riding out a full window, a down link and a
 *  reconnect; `midway` runs once after half are accepted. */
async function publishAll(ctx: Context, n: number, tag: number, midway?: () => Promise<void>, limitMs = 60_000) {
  const sent: { pid: number; payload: Uint8Array }[] = [];
  const t0 = Date.now();
  let waits = 0;
  while (sent.length < n) {
    if (Date.now() - t0 > limitMs)
      throw new QnError(Status.ERR_TIMEOUT, `only ${sent.length} of ${n} messages accepted in ${limitMs} ms`);
    const payload = Buffer.alloc(16);
    payload.writeUInt32LE(tag, 0);
    payload.writeUInt32LE(sent.length, 4);
    payload.fill(0xa5 ^ (sent.length & 0xff), 8);
    try {
      sent.push({ pid: ctx.peer.publish(14, 2, payload), payload });
    } catch (e: any) {
      if (![Status.ERR_WINDOW, Status.ERR_LINK_DOWN, Status.ERR_POOL_EMPTY, Status.ERR_RING_FULL].includes(e?.status))
        throw e;
      waits++;
      await sleep(2);
      continue;
    }
    if (midway && sent.length === Math.floor(n / 2)) {
      await midway();
      midway = undefined;
    }
  }
  // Everything acknowledged and completed by the target.
  if (!(await waitFor(() => ctx.peer.up && ctx.peer.core.qosStat(QosStat.IN_FLIGHT) === 0, limitMs))) {
    throw new QnError(Status.ERR_TIMEOUT, `${ctx.peer.core.qosStat(QosStat.IN_FLIGHT)} messages still in flight`);
  }
  await sleep(50); // the target's application takes the last ones from its inbox
  return { sent, waits, ms: Date.now() - t0 };
}

export const LINK_CHECKS: Check[] = [
  {
    n: 11,
    id: "link.handshake",
    name: "Handshake",
    async run(ctx) {
      const first = ctx.session;
      if (!first) return fail({}, "no session was established at connection");
      const core = ctx.peer.core;
      // Drop our side only and reconnect: the target still holds the
      // session, so this one resumes it with the token.
      core.disconnect();
      const t0 = process.hrtime.bigint();
      const again = await ctx.peer.connect(5000);
      const wallUs = Number((process.hrtime.bigint() - t0) / 1000n);
      const metrics: Metrics = {
        auth_mode: core.getConfig(ConfigKey.AUTH),
        full_handshake_us: first.handshakeUs,
        resumed_handshake_us: again.handshakeUs,
        resumed_wall_us: wallUs,
        resumed: again.resumed,
        session_id: "0x" + core.sessionStat(SessionStat.ID).toString(16),
      };
      if (!again.resumed) return fail(metrics, "reconnect within the session lifetime was not resumed");
      return pass(
        metrics,
        `handshake in ${first.handshakeUs} µs (auth mode ${metrics.auth_mode}); resumed in ${again.handshakeUs} µs with the same session`,
      );
    },
  },
  {
    n: 14,
    id: "qos.exactly_once",
    name: "QoS2 exactly-once",
    async run(ctx) {
      const n = ctx.mode === "full" ? 300 : 60;
      const before = await qosState(ctx);
      const retx0 = ctx.peer.core.counter(Counter.RETX);
      const r = rng(0x51);
      ctx.faulty.stats = { frames: 0, dropped: 0, duplicated: 0, cutBytes: 0 };
      ctx.faulty.faults = { drop: 0.1, duplicate: 0.1, random: () => r() / 2 ** 32 };
      let res;
      try {
        res = await publishAll(ctx, n, 0x140000 + (Date.now() & 0xffff));
      } finally {
        ctx.faulty.faults = {};
      }
      const after = await qosState(ctx);
      const want = chain(before.digest, res.sent);
      const metrics: Metrics = {
        messages: n,
        delivered: after.delivered - before.delivered,
        frames_dropped: ctx.faulty.stats.dropped,
        frames_duplicated: ctx.faulty.stats.duplicated,
        host_retransmissions: ctx.peer.core.counter(Counter.RETX) - retx0,
        duplicates_suppressed: after.dups - before.dups,
        replays_refused: after.replays - before.replays,
        digest: "0x" + after.digest.toString(16),
        expected_digest: "0x" + want.toString(16),
        elapsed_ms: res.ms,
      };
      if (after.digest !== want)
        return fail(
          metrics,
          `delivery digest differs: the target did not get each of the ${n} messages exactly once, in order`,
        );
      return pass(
        metrics,
        `${n} QoS 2 messages delivered exactly once in order through ${metrics.frames_dropped} dropped and ${metrics.frames_duplicated} duplicated frames`,
      );
    },
  },
  {
    n: 15,
    id: "journal.power_cut",
    name: "Journal power cut",
    async run(ctx) {
      if (!ctx.powerCut) return skip("this target cannot be reset from here");
      const n = ctx.mode === "full" ? 200 : 60;
      const before = await qosState(ctx);
      let how = "";
      let cutAt = 0;
      const res = await publishAll(
        ctx,
        n,
        0x150000 + (Date.now() & 0xffff),
        async () => {
          how = await ctx.powerCut!();
          cutAt = Date.now();
        },
        90_000,
      );
      const reconnectMs = Date.now() - cutAt;
      const after = await qosState(ctx);
      const want = chain(before.digest, res.sent);
      const metrics: Metrics = {
        messages: n,
        delivered: after.delivered - before.delivered,
        resets: 1,
        recovered_and_finished_ms: reconnectMs,
        journal_generation: after.generation,
        torn_records_dropped: after.torn,
        digest: "0x" + after.digest.toString(16),
        expected_digest: "0x" + want.toString(16),
      };
      if (after.digest !== want)
        return fail(metrics, `after the reset the target's deliveries do not match: lost or doubled messages (${how})`);
      return pass(metrics, `${how} halfway through ${n} QoS 2 messages: nothing lost, nothing doubled`);
    },
  },
  {
    n: 16,
    id: "link.reconnect",
    name: "Reconnect",
    async run(ctx) {
      const core = ctx.peer.core;
      const base = 20,
        cap = 320,
        cutMs = ctx.mode === "full" ? 1500 : 800;
      const saved = [
        ConfigKey.HEARTBEAT_MS,
        ConfigKey.HEARTBEAT_MISS,
        ConfigKey.BACKOFF_BASE_MS,
        ConfigKey.BACKOFF_CAP_MS,
        ConfigKey.HANDSHAKE_MS,
      ].map((k) => [k, core.getConfig(k)] as const);
      // Each as the core takes it: one it refuses (a base above the cap) keeps its value.
      core.trySetConfig(ConfigKey.BACKOFF_BASE_MS, base);
      core.trySetConfig(ConfigKey.BACKOFF_CAP_MS, cap);
      core.trySetConfig(ConfigKey.HEARTBEAT_MS, 50);
      core.trySetConfig(ConfigKey.HEARTBEAT_MISS, 3);
      core.trySetConfig(ConfigKey.HANDSHAKE_MS, 50);
      try {
        // Let any reconnect left over from an earlier check settle first.
        await waitFor(() => ctx.peer.up, 3000);
        const n0 = Number(core.sessionStat(SessionStat.BACKOFFS));
        ctx.faulty.cut = true;
        const t0 = Date.now();
        const down = await waitFor(() => !ctx.peer.up, 2000);
        const detectMs = Date.now() - t0;
        await sleep(Math.max(0, cutMs - detectMs));
        const n1 = Number(core.sessionStat(SessionStat.BACKOFFS));
        ctx.faulty.cut = false;
        const t1 = Date.now();
        const up = await waitFor(() => ctx.peer.up, cap + 3000);
        const convergeMs = Date.now() - t1;
        // Every wait of this cut against the schedule for the attempt the
        // core recorded with it: base * 2^(k-1) capped, with equal jitter
        // (half fixed, half random).
        const waits: number[] = [],
          bad: string[] = [];
        for (let i = Math.max(n0, n1 - 8); i < n1; i++) {
          const { waitMs: w, attempt: k } = core.backoff(i % 8);
          const nominal = Math.min(cap, base * 2 ** (k - 1));
          waits.push(w);
          if (k < 1 || w < Math.floor(nominal / 2) || w > nominal)
            bad.push(`attempt ${k}: ${w} ms outside [${Math.floor(nominal / 2)}, ${nominal}]`);
        }
        const metrics: Metrics = {
          cut_ms: cutMs,
          detect_ms: detectMs,
          attempts: n1 - n0,
          backoff_ms: waits.join(","),
          base_ms: base,
          cap_ms: cap,
          convergence_ms: convergeMs,
          resumed: core.sessionStat(SessionStat.RESUMED) === 1n,
        };
        if (!down) return fail(metrics, "the cut link was never noticed (heartbeats)");
        if (!up) return fail(metrics, `no session ${cap + 3000} ms after the link came back`);
        if (bad.length) return fail(metrics, `backoff off schedule: ${bad.join("; ")}`);
        if (n1 - n0 < 3) return fail(metrics, `only ${n1 - n0} reconnect attempts in ${cutMs} ms`);
        return pass(
          metrics,
          `link cut for ${cutMs} ms: noticed in ${detectMs} ms, ${n1 - n0} attempts on schedule (${waits.join(", ")} ms), session back ${convergeMs} ms after the link returned`,
        );
      } finally {
        ctx.faulty.cut = false;
        // Base before cap or cap before base, whichever the core accepts.
        for (const [k, v] of saved) core.trySetConfig(k, v);
        for (const [k, v] of saved) core.trySetConfig(k, v);
      }
    },
  },
  {
    n: 17,
    id: "sched.emergency",
    name: "Emergency priority",
    async run(ctx) {
      const rounds = ctx.mode === "full" ? 30 : 10;
      const before = await runProbe(ctx.peer, 17);
      const bulk = new Uint8Array(200).fill(0xb0);
      const emergency: number[] = [],
        normal: number[] = [];
      for (let i = 0; i < rounds; i++) {
        // Saturate: bulk frames the target echoes at bulk priority.
        for (let k = 0; k < 6; k++) ctx.peer.send(FrameType.DATA, { payload: bulk, channel: 17, prio: Prio.BULK });
        const t0 = process.hrtime.bigint();
        const e = ctx.peer.request(FrameType.PING, { payload: Uint8Array.of(0xee), prio: Prio.EMERGENCY });
        const b = ctx.peer.request(FrameType.PING, { payload: Uint8Array.of(0xbb), prio: Prio.BULK });
        await e;
        emergency.push(Number(process.hrtime.bigint() - t0) / 1000);
        await b;
        normal.push(Number(process.hrtime.bigint() - t0) / 1000);
        await sleep(5);
      }
      const after = await runProbe(ctx.peer, 17);
      const g = (r: typeof after, t: number) => Number(r.m.get(t) ?? 0n);
      const started = g(after, 3) - g(before, 3);
      const worst = g(after, 4);
      const bound = ctx.peer.core.txCap + 300; // one pull plus one whole emergency frame ahead
      const pct = (a: number[], p: number) =>
        Math.round([...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor((p / 100) * a.length))]);
      const metrics: Metrics = {
        rounds,
        emergency_frames_started: started,
        worst_bytes_ahead: worst,
        bound_bytes: bound,
        worst_wire_us_at_921600_estimate: Math.round(((worst * 10) / 921600) * 1e6),
        emergency_rtt_p50_us: pct(emergency, 50),
        emergency_rtt_max_us: pct(emergency, 100),
        bulk_ping_rtt_p50_us: pct(normal, 50),
        bulk_ping_rtt_max_us: pct(normal, 100),
        bulk_frames_cut: g(after, 6) - g(before, 6),
      };
      if (started < rounds)
        return fail(metrics, `only ${started} of ${rounds} emergency replies went out at emergency priority`);
      if (worst > bound) return fail(metrics, `${worst} bytes went out ahead of an emergency frame (bound ${bound})`);
      return pass(
        metrics,
        `under bulk load the target sent at most ${worst} bytes ahead of an emergency frame (≈${metrics.worst_wire_us_at_921600_estimate} µs at 921600 baud, estimate); emergency RTT p50 ${metrics.emergency_rtt_p50_us} µs vs bulk ${metrics.bulk_ping_rtt_p50_us} µs`,
      );
    },
  },
];
