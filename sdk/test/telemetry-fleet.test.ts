// The telemetry example on a gateway's fleet listener (issue 18): built
// from a copy of the SDK with its own key and a registry key id
// (QN_PSK_FILE, QN_KEY_ID: qn_config_t.key_id), booted in QEMU
// (mps2-an500) with its UART on a TCP connection to the listener. The
// gateway finds the key by the id the firmware names in its handshake,
// makes the device's link, and the readings reach an MQTT subscriber.
// QEMU, the gateway and mosquitto are stopped in afterAll (QEMU by its pid,
// first).
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pino from "pino";
import { connect, type MqttClient } from "mqtt";
import { Qemu } from "../../host/qemu.ts";
import { Gateway } from "../../gateway/gateway.ts";
import { Mosquitto, freePort, until, writeRegistry } from "../../gateway/test/helpers.ts";
import { sdkCopy, buildExample, cDefine, ROOT } from "./sdk-build.ts";

const READING = cDefine(join(ROOT, "examples/telemetry/telemetry.h"), "TELEMETRY_CH_READING");
const KEY_ID = 7;
const dir = mkdtempSync(join(tmpdir(), "qn-tel-fleet-"));

describe("telemetry example on a fleet listener, named by its key id", () => {
  let q: Qemu | undefined, broker: Mosquitto | undefined, gw: Gateway | undefined, sub: MqttClient | undefined;
  const readings: string[] = [];

  beforeAll(async () => {
    const key = randomBytes(32).toString("hex");
    writeFileSync(join(dir, "tel.hex"), `${key}\n`, { mode: 0o600 });
    const out = buildExample(sdkCopy("mps2-an500"), "telemetry", "mps2-an500", undefined, [
      `QN_PSK_FILE=${join(dir, "tel.hex")}`,
      `QN_KEY_ID=${KEY_ID}`,
    ]);
    broker = new Mosquitto(await freePort());
    await broker.start();
    const fleetPort = await freePort();
    writeRegistry(join(dir, "devices.qnr"), [
      {
        profile: "telemetry",
        heartbeat_ms: 1000,
        channels: [{ channel: READING, topic: "reading", qos: 1, direction: "up" }],
      },
      { device: "tel", key_id: KEY_ID, key, profile: "telemetry" },
    ]);
    writeFileSync(
      join(dir, "gateway.yaml"),
      `gateway: { spool: mqtt.spool }
mqtt: { url: "${broker.url}" }
fleet: { listen: "127.0.0.1:${fleetPort}", registry: devices.qnr, journals: journals, handshake_pool: 2, handshake_ms: 10000 }
`,
    );
    gw = Gateway.fromFile(join(dir, "gateway.yaml"), { log: pino({ level: "silent" }) });
    await gw.start({ ops: false });
    sub = connect(broker.url, { clientId: "qn-tel-fleet-sub", protocolVersion: 5, reconnectPeriod: 200 });
    sub.on("message", (topic, payload) => {
      if (topic === "qn/tel/reading") readings.push(payload.toString());
    });
    await new Promise<void>((r) => sub!.once("connect", () => sub!.subscribe("qn/#", { qos: 1 }, () => r())));
    q = await Qemu.start({ elf: join(out, "telemetry.elf"), serial: { tcp: `127.0.0.1:${fleetPort}` } });
    await q.cont();
  }, 300_000);

  afterAll(async () => {
    // QEMU first (by its pid): it would dial the stopping gateway again.
    try {
      await q?.stop();
    } finally {
      await gw?.stop();
      sub?.end(true);
      await broker?.stop();
    }
  });

  it("comes up on the listener under its key id and its readings reach the subscriber", async () => {
    await until("link up", () => gw!.links.get("tel")?.state === "up", 60_000);
    expect(gw!.links.get("tel")!.status().transport).toMatch(/^fleet /);
    await until("three readings", () => readings.length >= 3, 30_000);
    expect(gw!.fleet!.listener.refused.get("unknown" as never) ?? 0).toBe(0);
  }, 120_000);
});
