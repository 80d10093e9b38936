// The telemetry example as a firmware engineer builds it: `make sdk`, the
// SDK folder copied to a temporary directory, examples/telemetry built
// against that copy alone (no file of its build names the repository),
// booted in QEMU (mps2-an500) and talked to by a host peer over its pty:
// readings every 100 ms at QoS 1, a setpoint applied from a QoS 2 command
// (bad ones refused and counted), an emergency frame on an input event.
// QEMU is stopped by its pid in afterAll, also when a step fails.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { join } from "node:path";
import { existsSync } from "node:fs";
import type { Qemu } from "../../host/qemu.ts";
import { type FramePort, bootWithPort } from "../../boards/test/wire.ts";
import { Session } from "../../boards/test/session.ts";
import { FrameType, flagsPrio, flagsQos } from "../../host/frame.ts";
import { Prio, Qos } from "../../host/abi.ts";
import { sdkCopy, buildExample, filesNamingRepo, cDefine, ROOT } from "./sdk-build.ts";

const HDR = join(ROOT, "examples/telemetry/telemetry.h");
const CH = {
  reading: cDefine(HDR, "TELEMETRY_CH_READING"),
  setpoint: cDefine(HDR, "TELEMETRY_CH_SETPOINT"),
  emergency: cDefine(HDR, "TELEMETRY_CH_EMERGENCY"),
  input: cDefine(HDR, "TELEMETRY_CH_INPUT"),
};
const text = (b: Uint8Array) => Buffer.from(b).toString();
const field = (reading: string, k: string) => Number(new RegExp(`\\b${k}=(-?\\d+)`).exec(reading)?.[1]);

describe("examples/telemetry built from a copy of the SDK, in QEMU", () => {
  let sdk = "";
  let out = "";
  let q: Qemu | undefined;
  let port: FramePort | undefined;
  let session: Session | undefined;

  beforeAll(async () => {
    sdk = sdkCopy("mps2-an500");
    out = buildExample(sdk, "telemetry", "mps2-an500");
    ({ q, port } = await bootWithPort(join(out, "telemetry.elf")));
    session = await Session.open(port, { timeoutMs: 10_000 });
  }, 300_000);

  afterAll(async () => {
    session?.close();
    await port?.close();
    await q?.stop();
  });

  const readings = async (n: number, timeoutMs: number) => {
    const got: string[] = [];
    while (got.length < n) {
      const f = await session!.waitFor((f) => f.type === FrameType.DATA && f.channel === CH.reading, timeoutMs);
      expect(flagsQos(f.flags)).toBe(Qos.AT_LEAST_ONCE);
      got.push(text(f.payload));
    }
    return got;
  };

  it("built against the copy alone", () => {
    expect(existsSync(join(out, "telemetry.elf"))).toBe(true);
    expect(filesNamingRepo(out)).toEqual([]);
  });

  it("publishes a reading at QoS 1 every 100 ms, numbered without gaps", async () => {
    const t0 = Date.now();
    const got = await readings(8, 5000);
    const seqs = got.map((r) => field(r, "seq"));
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
    // 7 periods of 100 ms (QEMU's clock follows the host's; a loaded
    // machine stretches it, never shrinks it much).
    expect(Date.now() - t0).toBeGreaterThan(500);
    expect(got.every((r) => field(r, "sp") === 21000)).toBe(true);
  });

  it("applies a setpoint received at QoS 2 and refuses bad ones", async () => {
    session!.publish(CH.setpoint, Qos.EXACTLY_ONCE, Buffer.from("23500"));
    await expect
      .poll(async () => field((await readings(1, 2000))[0], "sp"), { timeout: 5000, interval: 1 })
      .toBe(23500);
    session!.publish(CH.setpoint, Qos.EXACTLY_ONCE, Buffer.from("hot"));
    session!.publish(CH.setpoint, Qos.EXACTLY_ONCE, Buffer.from("999999"));
    await expect.poll(async () => field((await readings(1, 2000))[0], "rej"), { timeout: 5000, interval: 1 }).toBe(2);
    const last = (await readings(1, 2000))[0];
    expect(field(last, "sp")).toBe(23500); // the last good setpoint survives
    expect(Math.abs(field(last, "mC") - 23500)).toBeLessThanOrEqual(100);
  });

  it("sends an emergency frame at emergency priority on an input event", async () => {
    session!.publish(CH.input, Qos.AT_LEAST_ONCE, Buffer.from("press"));
    const f = await session!.waitFor((f) => f.type === FrameType.DATA && f.channel === CH.emergency, 3000);
    expect(flagsPrio(f.flags)).toBe(Prio.EMERGENCY);
    expect(flagsQos(f.flags)).toBe(Qos.AT_LEAST_ONCE);
    expect(text(f.payload)).toBe("emergency input=1");
  });
});
