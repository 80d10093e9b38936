// Two gateway processes for one fleet behind one mosquitto, and a device
// with a device-side list of both that moves from the first to the second
// when the first is killed with SIGKILL in the middle of a QoS 1 and QoS 2
// stream (the scenario and what it checks: gateway-move.ts).
import { describe, it, afterAll } from "vitest";
import { MoveScenario } from "./gateway-move.ts";

describe("two gateways, one broker, a device moving between them", () => {
  const s = new MoveScenario("multi-gateway", "device");

  afterAll(() => s.stop());

  it("loses nothing acknowledged when the device's gateway is killed mid-stream, and every duplicate has its original's id", async () => {
    await s.start();
    // Both listen before the device dials its list, so it starts on the first.
    const d = s.device(s.gws.map((g) => `127.0.0.1:${g.devPort}`));
    await s.moveMidStream(async () => (d.up ? d.at : undefined));
  }, 300000);
});
