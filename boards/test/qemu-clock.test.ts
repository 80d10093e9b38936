// The mps2-an500 firmware's clock keeps the host's time while the emulator
// is starved of CPU, as on a loaded machine: QEMU is stopped (SIGSTOP) for
// 100 ms at a time between identity requests, and the device's uptime must
// still advance at the host's rate (the selftest's clock.monotonic checks
// the same thing over the same frames).
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { buildFirmware } from "./build.ts";
import type { Qemu } from "../../host/qemu.ts";
import { type FramePort, bootWithPort, readProto } from "./wire.ts";
import { FrameType } from "../../host/frame.ts";
import { nowUs } from "../../host/clock.ts";
import { rateBracket, rateVerdict, type ClockSample } from "../../selftest/clock-rate.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("mps2-an500 clock in QEMU", () => {
  let q: Qemu | undefined;
  let port: FramePort | undefined;

  beforeAll(async () => {
    ({ q, port } = await bootWithPort(buildFirmware("mps2-an500", "release")));
  }, 300_000);

  afterAll(async () => {
    await port?.close();
    await q?.stop();
  });

  it("runs at the host's rate through six 100 ms stalls of the emulator", async () => {
    const samples: ClockSample[] = [];
    let packet = 900;
    const sample = async () => {
      const sent = Number(nowUs());
      const r = await port!.request(FrameType.IDENT_REQ, packet++, FrameType.IDENT, undefined, 3000, { codec: 1 });
      samples.push({ sent, received: Number(nowUs()), device: Number(readProto(r.payload).get(9)) });
    };
    for (let i = 0; i < 3; i++) await sample();
    for (let k = 0; k < 6; k++) {
      process.kill(q!.pid, "SIGSTOP");
      try {
        await sleep(100);
      } finally {
        process.kill(q!.pid, "SIGCONT");
      }
      await sleep(20);
      await sample();
    }
    for (let i = 0; i < 3; i++) await sample();
    const b = rateBracket(samples)!;
    expect(
      rateVerdict(b, 0.05),
      `device clock at ${b.rate.toFixed(4)}x the host's, within [${b.low.toFixed(4)}, ${b.high.toFixed(4)}]`,
    ).toBe("ok");
  });
});
