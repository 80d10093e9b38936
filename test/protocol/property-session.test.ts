// The decoder property (test/core/property.test.ts) in the states where it
// matters most: during handshakes and inside an authenticated session with
// QoS 1 and 2 traffic in flight. A client publishes messages at random QoS;
// its bytes reach the device valid, bit-flipped, cut, with a byte dropped or
// inserted, or replaced by garbage, in random chunks; the device's answers
// go back clean; now and then the device loses power (a new handshake under
// the same corruption). Invariants after every input: the device delivers
// only messages that were sent, QoS 0 at most once, QoS 2 never twice, and
// its pools hold nothing beyond its queues. At the end, on a clean line,
// every QoS 1 and 2 message that was accepted has arrived. The count comes
// from QN_PROPERTY_INPUTS (make fuzz runs it with 10 million).
import { describe, it, expect } from "vitest";
import { Link } from "./harness.ts";
import { rng } from "../core/jsframe.ts";
import { QosStat } from "../../host/abi.ts";

const INPUTS = Number(process.env.QN_PROPERTY_INPUTS ?? 20_000);

describe("receive-path properties in handshake and session states", () => {
  for (const auth of [0, 2]) {
    it(`auth mode ${auth}: holds over ${INPUTS} inputs`, () => {
      const r = rng(0x5e55 + auth);
      const l = new Link({ role: 1, auth, retxMs: 20 }, { role: 0, auth, retxMs: 20 });
      l.connect();
      const host = l.a, dev = l.b;
      const sent = new Map<string, number>(); // payload hex -> QoS
      const seen = new Map<string, number>(); // payload hex -> deliveries
      let seq = 0, inputs = 0, resets = 0, corrupt = 0, garbage = 0, delivered = 0;
      const t0 = Date.now();
      const check = () => {
        for (const g of dev.got.splice(0)) {
          const k = g.payload.toString("hex");
          const qos = sent.get(k);
          expect(qos, `delivered a message never sent: ${k.slice(0, 40)}`).not.toBeUndefined();
          const n = (seen.get(k) ?? 0) + 1;
          seen.set(k, n);
          if (qos !== 1) expect(n, `QoS ${qos} message delivered ${n} times`).toBe(1);
          delivered++;
        }
      };
      // The application's deliveries are checked, not kept.
      while (inputs < INPUTS) {
        for (let n = 1 + (r() % 3); n--; ) {
          const qos = r() % 3;
          const p = Buffer.alloc(4 + (r() % 60));
          p.writeUInt32LE(seq++, 0);
          for (let i = 4; i < p.length; i++) p[i] = r() % 5 === 0 ? 0 : r() & 0xff;
          if (host.publish(r() % 4, qos, p) >= 0) sent.set(p.toString("hex"), qos);
        }
        let stream = Buffer.from(host.core.pull());
        const kind = r() % 4;
        if (kind === 1 && stream.length) {
          const m = r() % 3;
          if (m === 0) for (let k = 1 + (r() % 4); k--; ) stream[r() % stream.length] ^= 1 << (r() % 8);
          else if (m === 1) { const at = r() % stream.length; stream = Buffer.concat([stream.subarray(0, at), stream.subarray(at + 1)]); }
          else { const at = r() % stream.length; stream = Buffer.concat([stream.subarray(0, at), Buffer.from([r() & 0xff]), stream.subarray(at)]); }
          corrupt++;
        } else if (kind === 2) {
          stream = Buffer.concat([stream, Buffer.from(Uint8Array.from({ length: r() % 300 }, () => r() & 0xff))]);
          garbage++;
        }
        for (let o = 0; o < stream.length; ) {
          const c = 1 + (r() % 97);
          dev.core.rx(stream.subarray(o, o + c));
          o += c;
        }
        dev.core.rx(Uint8Array.of(0));
        dev.drain();
        check();
        l.t += 1 + (r() % 8);
        const us = BigInt(l.t) * 1000n;
        dev.core.tick(us);
        host.core.rx(dev.core.pull());
        host.core.tick(us);
        host.drain();
        if (r() % 2000 === 0) { dev.reset(); resets++; }
        inputs++;
      }
      // A clean line: everything accepted arrives.
      l.run(3000, () => host.up && dev.up && host.core.x.qn_qos_stat(QosStat.IN_FLIGHT) === 0);
      l.run(200);
      check();
      for (const [k, qos] of sent) if (qos > 0) expect(seen.get(k) ?? 0, `QoS ${qos} message ${k.slice(0, 16)} lost`).toBeGreaterThan(0);
      const pools = dev.core.pool(0).inUse + dev.core.pool(1).inUse;
      expect(pools).toBe(dev.core.inboxCount());
      console.log(`session property test, auth ${auth}: ${inputs} inputs (${corrupt} corrupted, ${garbage} with garbage), ${resets} device resets, ` +
        `${sent.size} messages accepted, ${delivered} delivered, 0 false or doubled, ${Date.now() - t0} ms`);
    }, 600_000);
  }
});
