// Two gateway processes behind HAProxy in TCP mode (gateway/test/haproxy.ts:
// leastconn, a stick table on the source address, TCP health checks every
// 250 ms), one mosquitto behind them, and a device that dials only
// HAProxy's frontend port. The gateway holding the device (asked through
// each gateway's ops API) is killed with SIGKILL in the middle of a QoS 1
// and QoS 2 stream; HAProxy marks it DOWN, the device redials HAProxy and
// lands on the other gateway, the killed one is marked UP again once it
// restarts, and the device's address sticks to the gateway it moved to.
// The scenario and what it checks at the subscriber (nothing acknowledged
// lost, every duplicate with its original's id, dedup by id equal to what
// the device published): gateway-move.ts. HAProxy missing fails the test,
// saying what installs it.
import { describe, it, expect, afterAll } from "vitest";
import { MoveScenario } from "./gateway-move.ts";
import { HAProxy } from "./haproxy.ts";

/** Bound on HAProxy's own waits (start, a server marked DOWN or UP). */
const WAIT_MS = 30000;

describe("two gateways behind HAProxy, a device moving between them", () => {
  const s = new MoveScenario("haproxy", "fleet");
  let lb: HAProxy | undefined;

  afterAll(async () => {
    await s.stop();
    await lb?.stop();
  });

  it("loses nothing acknowledged when the device's gateway behind HAProxy is killed mid-stream, and every duplicate has its original's id", async () => {
    await s.start();
    const h = await HAProxy.start(new Map(s.gws.map((g) => [g.name, g.devPort])), WAIT_MS);
    lb = h;
    const d = s.device([h.address]);
    // The gateway with the device's session up; none while two or none say so.
    const holder = async () => {
      if (!d.up) return undefined;
      const up = await Promise.all(s.gws.map((g) => g.devicesUp()));
      return up.filter((n) => n > 0).length === 1 ? up.findIndex((n) => n > 0) : undefined;
    };
    const { to } = await s.moveMidStream(holder, {
      killed: (g) => h.waitFor(g.name, "DOWN", WAIT_MS),
      restarted: (g) => h.waitFor(g.name, "UP", WAIT_MS),
    });
    // The device's address now sticks to the gateway it moved to, so a
    // reconnect stays there although the killed one is back UP.
    expect(await h.stuckTo("127.0.0.1")).toBe(to.name);
  }, 300000);
});
