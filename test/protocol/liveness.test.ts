// Heartbeats, the circuit breaker, reconnect with exponential backoff and
// jitter, and session resume, all on a simulated clock.
import { describe, it, expect } from "vitest";
import { Link } from "./harness.ts";
import { Counter, QosStat, SessionStat } from "../../host/abi.ts";

describe("liveness", () => {
  it("heartbeats keep an idle session up", () => {
    const l = new Link({ role: 1, auth: 2 }, { role: 0, auth: 2 });
    l.connect();
    l.run(2000);
    expect(l.a.up && l.b.up).toBe(true);
    expect(l.a.core.counter(Counter.HEARTBEATS)).toBeGreaterThanOrEqual(2000 / 50 - 2);
  });

  it("a client streaming QoS 0 without pause keeps its session: it pings when it has not heard the server", () => {
    const o = { auth: 2, heartbeatMs: 100, misses: 3 };
    const l = new Link({ role: 1, ...o }, { role: 0, ...o });
    l.bytesPerMs = 92.16; // 921600 baud: the stream fills the line
    l.connect();
    const p = new Uint8Array(32);
    for (let t = 0; t < 3000; t++) {
      while (l.a.publish(1, 0, p) >= 0) {}
      l.step();
    }
    expect(l.b.got.length).toBeGreaterThan(3000); // the line was kept busy
    expect(l.a.core.counter(Counter.LINK_DOWN)).toBe(0);
    expect(l.a.up && l.b.up).toBe(true);
  });

  it("a peer that stops answering is marked down after the configured misses; sends then fail fast", () => {
    const l = new Link(
      { role: 1, auth: 2, heartbeatMs: 50, misses: 3 },
      { role: 0, auth: 2, heartbeatMs: 50, misses: 3 },
    );
    l.connect();
    l.cut = true;
    const t0 = l.t;
    l.run(1000, () => !l.a.up);
    const detect = l.t - t0;
    expect(l.a.up).toBe(false);
    // Down when 3 heartbeats went unanswered, each given an interval for
    // its answer: 4 intervals (200 ms) after the last frame heard, which
    // came at most one heartbeat before the cut.
    expect(detect).toBeGreaterThan(150);
    expect(detect).toBeLessThanOrEqual(202);
    expect(l.a.core.counter(Counter.LINK_DOWN)).toBe(1);
    expect(l.a.publish(1, 0, Uint8Array.of(1))).toBe(-23);
    expect(l.a.publish(1, 2, Uint8Array.of(1))).toBe(-23);
    expect(l.a.core.counter(Counter.LINK_DOWN_REFUSED)).toBe(2);
  });

  it("a shell that stops reading on purpose (qn_hold_rx) keeps its session; without the hold the silence takes it down", () => {
    for (const hold of [true, false]) {
      const l = new Link(
        { role: 1, auth: 2, heartbeatMs: 50, misses: 3 },
        { role: 0, auth: 2, heartbeatMs: 50, misses: 3 },
      );
      l.connect();
      const session = l.a.core.sessionStat(SessionStat.ID);
      if (hold) l.a.core.holdRx(true);
      l.aPaused = true;
      l.run(1000); // far beyond 3 missed heartbeats of 50 ms
      expect(l.a.up).toBe(hold);
      if (!hold) {
        expect(l.a.core.counter(Counter.LINK_DOWN)).toBeGreaterThanOrEqual(1);
        continue;
      } // and again on every failed reconnect
      expect(l.b.up).toBe(true); // the client's heartbeats still reach the device
      l.a.core.holdRx(false);
      l.aPaused = false;
      l.run(1000);
      expect(l.a.up && l.b.up).toBe(true);
      expect(l.a.core.sessionStat(SessionStat.ID)).toBe(session); // the same session, never dropped
      expect(l.a.core.counter(Counter.LINK_DOWN)).toBe(0);
    }
  });

  it("reconnects with exponential backoff and jitter within bounds, capped, reset on success", () => {
    const base = 10,
      cap = 200;
    const l = new Link(
      { role: 1, auth: 1, backoffBaseMs: base, backoffCapMs: cap, handshakeMs: 20 },
      { role: 0, auth: 1 },
    );
    l.connect();
    l.cut = true;
    l.run(3000);
    const core = l.a.core;
    const n = Number(core.sessionStat(SessionStat.BACKOFFS));
    expect(n).toBeGreaterThan(8);
    // The last 8 waits, oldest first, with their attempt numbers.
    const waits: number[] = [];
    for (let i = n - 8; i < n; i++) waits.push(core.backoff(i % 8).waitMs);
    const attempts = Number(core.sessionStat(SessionStat.ATTEMPT));
    for (let k = 0; k < 8; k++) {
      const attempt = attempts - 7 + k;
      const nominal = Math.min(cap, base * 2 ** (attempt - 1));
      expect(waits[k]).toBeGreaterThanOrEqual(Math.floor(nominal / 2));
      expect(waits[k]).toBeLessThanOrEqual(nominal);
    }
    // Restore the link: it converges within one capped wait plus a round trip.
    l.cut = false;
    const t0 = l.t;
    l.run(cap + 100, () => l.a.up && l.b.up);
    const converge = l.t - t0;
    expect(l.a.up && l.b.up).toBe(true);
    expect(converge).toBeLessThanOrEqual(cap + 30);
    expect(Number(core.sessionStat(SessionStat.ATTEMPT))).toBe(0); // attempt counter reset on success
    console.log(
      `reconnect: ${n} backoff waits while cut, last ${waits.join(", ")} ms (base ${base}, cap ${cap}); converged ${converge} ms after the link returned`,
    );
  });

  it("a reconnect within the session lifetime resumes the same session; in-flight QoS 2 completes", () => {
    const l = new Link({ role: 1, auth: 2 }, { role: 0, auth: 2 });
    l.connect();
    const sid = l.a.core.sessionStat(SessionStat.ID);
    l.cut = true;
    // Accepted (the cut is not noticed yet), then stuck in flight.
    for (let i = 0; i < 5; i++) expect(l.a.publish(3, 2, Buffer.from(`m${i}`))).toBeGreaterThan(0);
    l.run(400);
    expect(l.a.up).toBe(false);
    expect(l.a.publish(3, 2, Buffer.from("refused"))).toBe(-23);
    l.cut = false;
    l.run(1500, () => l.b.got.length === 5 && l.a.core.qosStat(QosStat.IN_FLIGHT) === 0);
    expect(l.a.core.sessionStat(SessionStat.RESUMED)).toBe(1n); // resumed
    expect(l.a.core.sessionStat(SessionStat.ID)).toBe(sid);
    expect(l.b.got.map((g) => g.payload.toString())).toEqual(["m0", "m1", "m2", "m3", "m4"]);
  });

  it("a server reboot is noticed at the next frame (ERROR session), not after heartbeat misses", () => {
    const l = new Link({ role: 1, auth: 2, heartbeatMs: 1000 }, { role: 0, auth: 2, heartbeatMs: 1000 });
    l.connect();
    l.b.reset();
    l.a.publish(1, 1, Buffer.from("x"));
    const t0 = l.t;
    l.run(500, () => l.a.up && l.b.up && l.b.got.length === 1);
    expect(l.b.got.map((g) => g.payload.toString())).toEqual(["x"]);
    expect(l.t - t0).toBeLessThan(200);
  });
});
