// The telemetry example end to end: built from a copy of the SDK, booted in
// QEMU (mps2-an500), behind the gateway's serial device link, bridged to
// mosquitto; an MQTT subscriber gets its readings and its emergency frame,
// and an MQTT publisher's setpoint (QoS 2 all the way) and input event
// reach the firmware. QEMU, the gateway and mosquitto are stopped in
// afterAll (QEMU by its pid), also when a step fails.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { connect, type MqttClient } from "mqtt";
import { Qemu } from "../../host/qemu.ts";
import { Gateway } from "../../gateway/gateway.ts";
import { Mosquitto, freePort, until, writeDevKey } from "../../gateway/test/helpers.ts";
import { sdkCopy, buildExample, cDefine, ROOT } from "./sdk-build.ts";

const HDR = join(ROOT, "examples/telemetry/telemetry.h");
const CH = {
  reading: cDefine(HDR, "TELEMETRY_CH_READING"),
  setpoint: cDefine(HDR, "TELEMETRY_CH_SETPOINT"),
  emergency: cDefine(HDR, "TELEMETRY_CH_EMERGENCY"),
  input: cDefine(HDR, "TELEMETRY_CH_INPUT"),
};
const field = (reading: string, k: string) => Number(new RegExp(`\\b${k}=(-?\\d+)`).exec(reading)?.[1]);
const dir = mkdtempSync(join(tmpdir(), "qn-tel-gw-"));

describe("telemetry example: device -> gateway -> mosquitto -> subscriber", () => {
  let q: Qemu | undefined, broker: Mosquitto | undefined, gw: Gateway | undefined;
  let sub: MqttClient | undefined, pub: MqttClient | undefined;
  const got = new Map<string, string[]>();
  const on = (topic: string) => got.get(topic) ?? [];

  beforeAll(async () => {
    const out = buildExample(sdkCopy("mps2-an500"), "telemetry", "mps2-an500");
    broker = new Mosquitto(await freePort());
    await broker.start();
    q = await Qemu.start({ elf: join(out, "telemetry.elf") });
    writeDevKey(dir);
    writeFileSync(
      join(dir, "gateway.yaml"),
      `gateway: { spool: mqtt.spool }
mqtt: { url: "${broker.url}" }
devices:
  - id: tel
    transport: { serial: { path: ${q.pty}, baud: 921600 } }
    key_file: k.hex
    journal: tel.journal
    heartbeat_ms: 1000
    heartbeat_misses: 5
    retransmit_ms: 500
    channels:
      - { channel: ${CH.reading}, topic: reading, qos: 1, direction: up }
      - { channel: ${CH.emergency}, topic: emergency, qos: 1, direction: up }
      - { channel: ${CH.setpoint}, topic: setpoint, qos: 2, direction: down }
      - { channel: ${CH.input}, topic: input, qos: 1, direction: down }
`,
    );
    gw = Gateway.fromFile(join(dir, "gateway.yaml"), { log: pino({ level: "silent" }) });
    await gw.start({ ops: false });
    await until("port open", () => gw!.links.get("tel")!.state === "handshake", 10000);
    await q.cont();
    sub = connect(broker.url, { clientId: "qn-tel-sub", protocolVersion: 5, reconnectPeriod: 200 });
    sub.on("message", (topic, payload) => {
      if (!got.has(topic)) got.set(topic, []);
      got.get(topic)!.push(payload.toString());
    });
    await new Promise<void>((r) => sub!.once("connect", () => sub!.subscribe("qn/#", { qos: 1 }, () => r())));
    pub = connect(broker.url, { clientId: "qn-tel-pub", protocolVersion: 5, reconnectPeriod: 200 });
    await new Promise<void>((r) => pub!.once("connect", () => r()));
    await until("link up", () => gw!.links.get("tel")!.state === "up", 60000);
  }, 300_000);

  afterAll(async () => {
    try {
      await gw?.stop();
      sub?.end(true);
      pub?.end(true);
      await broker?.stop();
    } finally {
      await q?.stop(); // by pid, whatever failed above
    }
  });

  const publish = (topic: string, payload: string, qos: 1 | 2) =>
    new Promise<void>((r, j) => pub!.publish(topic, payload, { qos }, (e) => (e ? j(e) : r())));

  it("delivers readings to the subscriber in order, none missing", async () => {
    await until("10 readings", () => on("qn/tel/reading").length >= 10, 20000);
    const seqs = on("qn/tel/reading").map((r) => field(r, "seq"));
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
  }, 30_000);

  it("applies a setpoint published to mosquitto at QoS 2", async () => {
    await publish("qn/tel/setpoint", "19250", 2);
    await until("setpoint in a reading", () => on("qn/tel/reading").some((r) => field(r, "sp") === 19250), 10000);
    expect(on("qn/tel/reading").every((r) => field(r, "rej") === 0)).toBe(true);
  }, 20_000);

  it("sends the emergency frame to the subscriber on an input event", async () => {
    await publish("qn/tel/input", "press", 1);
    await until("emergency", () => on("qn/tel/emergency").length > 0, 10000);
    expect(on("qn/tel/emergency")).toEqual(["emergency input=1"]);
  }, 20_000);
});
