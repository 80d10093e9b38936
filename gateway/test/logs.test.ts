// The gateway's log lines carry the fields log pipelines key on: service,
// environment, level as text, event, device on a link's lines, trace_id
// and span_id on a message's lines; a state change is one line at info
// (or above), a message's lines are at debug. A real gateway (mosquitto,
// an emulated device over TCP) logging through createLogger.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { writeFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../host/status.ts";
import { Gateway } from "../gateway.ts";
import { createLogger, EVENTS, eventOf, SERVICE } from "../log.ts";
import { startDevice, Mosquitto, type TcpDevice, freePort, until, writeDevKey } from "./helpers.ts";

describe("gateway log lines", () => {
  const dir = mkdtempSync(join(tmpdir(), "qn-logs-"));
  const lines: Record<string, unknown>[] = [];
  let broker: Mosquitto, gw: Gateway, dev: TcpDevice;
  const having = (event: string) => lines.filter((l) => l.event === event);

  beforeAll(async () => {
    const ports = { broker: await freePort(), dev: await freePort() };
    broker = new Mosquitto(ports.broker);
    await broker.start();
    writeDevKey(dir);
    writeFileSync(
      join(dir, "gateway.yaml"),
      `gateway:
  spool: mqtt.spool
  environment: staging
mqtt: { url: "mqtt://127.0.0.1:${ports.broker}", topic_prefix: qn }
devices:
  - id: dev1
    transport: { tcp: { listen: "127.0.0.1:${ports.dev}" } }
    key_file: k.hex
    journal: dev1.journal
    channels:
      - { channel: 1, topic: telemetry, qos: 1, direction: up }
`,
    );
    const log = createLogger(
      { level: "debug", environment: "staging" },
      { write: (s: string) => void lines.push(JSON.parse(s)) },
    );
    gw = Gateway.fromFile(join(dir, "gateway.yaml"), { log });
    await gw.start({ ops: false });
    dev = await startDevice(gw, "dev1", ports.dev, join(dir, "k.hex"));
  }, 30000);

  afterAll(async () => {
    await dev?.stop();
    await gw?.stop();
    await broker?.stop();
  });

  it("every line has service, environment, level as text and an event name", async () => {
    dev.publish(1, 1);
    await until("published", () => having("message.published").length > 0, 15000);
    await dev.stop();
    await until("link down", () => having("link.down").length > 0, 15000);
    for (const l of lines) {
      expect(l.service).toBe(SERVICE);
      expect(l.environment).toBe("staging");
      expect(["trace", "debug", "info", "warn", "error", "fatal"]).toContain(l.level);
      expect(typeof l.event, JSON.stringify(l)).toBe("string");
    }
  }, 40000);

  it("a state change is one line at info or above, with the device", async () => {
    for (const [event, level] of [
      ["gateway.started", "info"],
      ["link.waiting", "info"],
      ["link.up", "info"],
      ["link.connection_closed", "info"],
      ["link.down", "warn"],
      ["broker.connected", "info"],
    ] as const) {
      const got = having(event);
      expect(got.length, event).toBeGreaterThan(0);
      for (const l of got) {
        expect(l.level, event).toBe(level);
        if (event.startsWith("link.")) expect(l.device).toBe("dev1");
      }
    }
    expect(having("gateway.started")).toHaveLength(1);
    expect(having("link.waiting")).toHaveLength(1);
    // One line per session established and per session lost, however
    // often a loaded machine made the link drop: as many as counted.
    const total = async (name: string) =>
      (await gw.metrics.registry.getSingleMetric(name)!.get()).values.reduce((a, v) => a + v.value, 0);
    expect(having("link.up")).toHaveLength(await total("qn_link_up_total"));
    expect(having("link.down")).toHaveLength(await total("qn_link_down_total"));
  });

  it("a message's lines are at debug, with its device and trace ids", () => {
    for (const event of ["message.uplink", "message.published"]) {
      const got = having(event);
      expect(got.length, event).toBeGreaterThan(0);
      for (const l of got) {
        expect(l.level).toBe("debug");
        expect(l.device).toBe("dev1");
        expect(l.trace_id).toMatch(/^[0-9a-f]{32}$/);
        expect(l.span_id).toMatch(/^[0-9a-f]{16}$/);
      }
    }
    // The uplink and its publish are one trace.
    expect(having("message.published")[0].trace_id).toBe(having("message.uplink")[0].trace_id);
  });
});

describe("event names", () => {
  it("every message the gateway, its links, its bridge and its exporter log has a name in the table", () => {
    const missing: string[] = [];
    for (const f of ["gateway.ts", "device-link.ts", "bridge.ts", "otel.ts"]) {
      const src = readFileSync(join(ROOT, "gateway", f), "utf8");
      // The message is a log call's last argument, a string literal.
      for (const m of src.matchAll(/\blog\.(?:trace|debug|info|warn|error|fatal)\(([^;]*?)"([^"]+)",?\s*\);/g))
        if (!EVENTS[m[2]]) missing.push(`${f}: ${m[2]}`);
    }
    expect(missing).toEqual([]);
  });

  it("a message not in the table gets a name from its words", () => {
    expect(eventOf("spool: corrupt file; continuing")).toBe("spool");
    expect(eventOf("session up")).toBe("link.up");
  });
});
