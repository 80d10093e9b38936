// A noisy serial line: what a corrupted frame may cost. Each lost frame
// costs that frame and one retransmission timeout, never the session
// (which a re-handshake under noise turns into seconds of silence). Two
// cores on a simulated clock, frames dropped where a bit flip would have
// destroyed them, and a byte-level noise run (host/line-noise.ts) that
// counts the silence.
import { describe, it, expect } from "vitest";
import { Link } from "./harness.ts";
import { Counter, FrameType, Prio, SessionStat } from "../../host/abi.ts";
import { flags } from "../../host/frame.ts";

/** Drop the frames end `e` receives whose 1-based arrival numbers `drop`
 *  names (in frame mode each rx call is one frame). */
function dropArrivals(core: { rx(b: Uint8Array): number }, drop: (n: number, b: Uint8Array) => boolean): void {
  const rx = core.rx.bind(core);
  let n = 0;
  core.rx = (b: Uint8Array) => (drop(++n, b) ? 0 : rx(b));
}

describe("noisy line", () => {
  it("`misses` heartbeat answers lost in a row do not take the session down; one more does", () => {
    for (const lost of [3, 4]) {
      const l = new Link(
        { role: 1, auth: 2, heartbeatMs: 100, misses: 3 },
        { role: 0, auth: 2, heartbeatMs: 100, misses: 3 },
      );
      l.connect();
      l.run(250); // idle: heartbeats and their answers only
      let gone = 0;
      dropArrivals(l.a.core, () => gone++ < lost);
      l.run(1000, () => !l.a.up);
      expect(gone).toBeGreaterThanOrEqual(lost);
      // Three heartbeats unanswered is what `misses` 3 allows; the fourth
      // is one too many.
      expect({ lost, up: l.a.up, down: l.a.core.counter(Counter.LINK_DOWN) }).toEqual({
        lost,
        up: lost <= 3,
        down: lost <= 3 ? 0 : 1,
      });
    }
  });

  it("a lost CONFIRM (client up, server not) is noticed at the next unauthenticated answer, not after the heartbeat misses", () => {
    // Heartbeats of a second: the misses alone would take over 3 s.
    const l = new Link(
      { role: 1, auth: 2, heartbeatMs: 1000, misses: 3, handshakeMs: 100, backoffBaseMs: 10, backoffCapMs: 100 },
      { role: 0, auth: 2, heartbeatMs: 1000, misses: 3, handshakeMs: 100 },
    );
    // The server's second frame in is the CONFIRM (the first is the HELLO).
    dropArrivals(l.b.core, (n) => n === 2);
    l.a.core.connect();
    expect(l.run(200, () => l.a.up)).toBe(true);
    expect(l.b.up).toBe(false);
    // The application pings the device until it answers within the session.
    const t0 = l.t;
    const got = new Set<number>();
    l.a.drain = () => {
      for (let f; (f = l.a.core.inboxPop()); ) if (f.type === FrameType.PONG && f.packet) got.add(f.packet);
    };
    let packet = 100;
    l.run(5000, () => {
      if ((l.t - t0) % 50 === 0 && l.a.up)
        l.a.core.send({ type: FrameType.PING, flags: flags(Prio.CONTROL), packet: ++packet });
      return l.a.up && l.b.up && got.size > 0;
    });
    const ms = l.t - t0;
    expect(l.a.up && l.b.up).toBe(true);
    // Suspicion (handshake time), a backoff and a handshake: well under
    // the 3 s of heartbeat misses.
    expect(ms).toBeLessThan(600);
  });

  it("on a line with 2.5e-4 bit errors each way, an idle session drops no more often than independent losses explain", () => {
    // The selftest's timing: heartbeats every 100 ms, 3 misses. The session
    // may drop only when 4 heartbeat round trips in a row are lost; with
    // each lost with the probability measured here, that happens
    // heartbeats * p^4 times (a Poisson count: allow 3 standard deviations
    // and one more). A corrupted byte that cost more than its frame (a
    // stalled decoder, a suspicion, a lost delimiter holding the next frame)
    // would show as more drops than that.
    const misses = 3;
    let heartbeats = 0,
      answered = 0,
      drops = 0,
      flips = 0;
    for (const seed of [1, 2, 3]) {
      const o = { heartbeatMs: 100, misses, handshakeMs: 300, backoffBaseMs: 20, backoffCapMs: 500 };
      const l = new Link({ role: 1, ...o }, { role: 0, ...o }, {}, seed, { ber: 2.5e-4 });
      l.connect();
      const hb0 = l.a.core.counter(Counter.HEARTBEATS),
        in0 = l.a.core.counter(Counter.FRAMES_IN);
      l.run(60_000);
      flips += l.noise.ab.flipped + l.noise.ba.flipped;
      heartbeats += l.a.core.counter(Counter.HEARTBEATS) - hb0;
      answered += l.a.core.counter(Counter.FRAMES_IN) - in0; // an idle client hears only pongs (and handshakes)
      drops += Number(l.a.core.sessionStat(SessionStat.SESSIONS_UP)) - 1;
    }
    const p = 1 - answered / heartbeats;
    const expected = heartbeats * p ** (misses + 1);
    expect(flips).toBeGreaterThan(100); // the line really was noisy
    expect(p).toBeGreaterThan(0.05);
    expect(
      drops,
      `${drops} drops in ${heartbeats} heartbeats, ${(p * 100).toFixed(1)} % lost: ${expected.toFixed(2)} expected`,
    ).toBeLessThanOrEqual(expected + 3 * Math.sqrt(expected) + 1);
  });
});
