// The gateway's spans leave the process over OTLP/HTTP when
// gateway.tracing.otlp is set: a receiver in this test (an HTTP server on
// loopback) decodes what arrives (OTLP JSON) and finds the chain device ->
// gateway -> broker: the device's context is the parent of the `qn uplink`
// span, whose child `mqtt publish` is the parent the MQTT subscriber sees;
// with attributes, resource (service, environment), the configured header,
// and the sampling ratio applied to traces the gateway starts only.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { createServer, type Server } from "node:http";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { connect, type MqttClient } from "mqtt";
import {
  encodeTraceBytes,
  formatTraceparent,
  newSpanId,
  newTraceId,
  parseTraceparent,
  type TraceContext,
} from "../../host/trace.ts";
import { Gateway } from "../gateway.ts";
import { SPAN, ATTR, startSpan } from "../tracing.ts";
import { SERVICE } from "../log.ts";
import { RESOURCE, OtlpTracing, exportProblems } from "../otel.ts";
import { parseConfig } from "../config.ts";
import { startDevice, Mosquitto, type TcpDevice, freePort, until, writeDevKey } from "./helpers.ts";

/** A span as OTLP/JSON carries it, with its resource's attributes. */
interface Got {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

const OTLP_KIND_CONSUMER = 5;
const OTLP_KIND_PRODUCER = 4;

/** OTLP/JSON any-value to a plain value. */
function plain(v: Record<string, unknown>): unknown {
  if ("stringValue" in v) return v.stringValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  if ("boolValue" in v) return v.boolValue;
  if ("arrayValue" in v) return ((v.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map(plain);
  return v;
}
const attrs = (a: { key: string; value: Record<string, unknown> }[] = []) =>
  Object.fromEntries(a.map((x) => [x.key, plain(x.value)]));
/** OTLP/JSON ids are hex; base64 (the protobuf JSON mapping) is accepted too. */
const hex = (id: string | undefined) =>
  !id ? "" : /^[0-9a-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, "base64").toString("hex");

class Receiver {
  readonly spans: Got[] = [];
  readonly headers: Record<string, string | string[] | undefined>[] = [];
  readonly problems: string[] = [];
  private server?: Server;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.headers.push(req.headers);
        try {
          if (req.url !== "/v1/traces") throw new Error(`POST to ${req.url}`);
          if (!String(req.headers["content-type"]).startsWith("application/json"))
            throw new Error(`content-type ${req.headers["content-type"]}`);
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          for (const rs of body.resourceSpans ?? [])
            for (const ss of rs.scopeSpans ?? [])
              for (const s of ss.spans ?? [])
                this.spans.push({
                  name: s.name,
                  kind: s.kind,
                  traceId: hex(s.traceId),
                  spanId: hex(s.spanId),
                  parentSpanId: hex(s.parentSpanId),
                  attributes: attrs(s.attributes),
                  resource: attrs(rs.resource?.attributes),
                });
          res.writeHead(200, { "content-type": "application/json" });
          res.end("{}");
        } catch (e) {
          this.problems.push((e as Error).message);
          res.writeHead(400);
          res.end();
        }
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

describe("OTLP export of the gateway's spans", () => {
  const dir = mkdtempSync(join(tmpdir(), "qn-otlp-"));
  const rx = new Receiver();
  let broker: Mosquitto, gw: Gateway, dev: TcpDevice, sub: MqttClient, pub: MqttClient;
  const got: { topic: string; payload: string; traceparent?: string }[] = [];

  beforeAll(async () => {
    await rx.start();
    const ports = { broker: await freePort(), dev: await freePort() };
    broker = new Mosquitto(ports.broker);
    await broker.start();
    writeDevKey(dir);
    writeFileSync(
      join(dir, "gateway.yaml"),
      `gateway:
  spool: mqtt.spool
  environment: ci
  tracing:
    otlp:
      endpoint: "http://127.0.0.1:${rx.port}/v1/traces"
      headers: { x-qn-tenant: lab-7 }
      sampling_ratio: 0
mqtt: { url: "mqtt://127.0.0.1:${ports.broker}", topic_prefix: qn }
devices:
  - id: dev1
    transport: { tcp: { listen: "127.0.0.1:${ports.dev}" } }
    key_file: k.hex
    journal: dev1.journal
    channels:
      - { channel: 1, topic: telemetry, qos: 1, direction: up }
      - { channel: 5, topic: echo, qos: 1, direction: up }
      - { channel: 5, topic: cmd, qos: 1, direction: down }
`,
    );
    gw = Gateway.fromFile(join(dir, "gateway.yaml"), { log: pino({ level: "silent" }) });
    await gw.start({ ops: false });
    sub = connect(broker.url, { clientId: "qn-otlp-sub", protocolVersion: 5, reconnectPeriod: 200 });
    sub.on("message", (topic, payload, packet) => {
      const tp = packet.properties?.userProperties?.traceparent;
      got.push({ topic, payload: payload.toString(), traceparent: typeof tp === "string" ? tp : undefined });
    });
    await new Promise<void>((r) => sub.once("connect", () => sub.subscribe("qn/#", { qos: 1 }, () => r())));
    pub = connect(broker.url, { clientId: "qn-otlp-pub", protocolVersion: 5, reconnectPeriod: 200 });
    await new Promise<void>((r) => pub.once("connect", () => r()));
    dev = await startDevice(gw, "dev1", ports.dev, join(dir, "k.hex"));
  }, 30000);

  afterAll(async () => {
    await dev?.stop();
    await gw?.stop();
    sub?.end(true);
    pub?.end(true);
    await broker?.stop();
    await rx.stop();
  });

  it("is off unless configured", () => {
    const c = parseConfig('mqtt: { url: "mqtt://127.0.0.1:1" }');
    expect(c.gateway.tracing.otlp).toBeUndefined();
  });

  it("sends the chain device -> qn uplink -> mqtt publish -> subscriber, with attributes, resource and headers", async () => {
    // The device's own span: sampled, so the gateway's ratio 0 does not cut it.
    const device: TraceContext = { traceId: newTraceId(), spanId: newSpanId(), traceFlags: 1 };
    expect(dev.publishBody(1, 1, Buffer.from("otlp-traced"), encodeTraceBytes(device))).toBeGreaterThan(0);
    // A message without a context starts a trace at the gateway: ratio 0
    // records none of it.
    expect(dev.publishBody(1, 1, Buffer.from("otlp-plain"))).toBeGreaterThan(0);
    await until(
      "both messages at the subscriber",
      () => got.some((g) => g.payload === "otlp-plain") && got.some((g) => g.payload === "otlp-traced"),
    );
    const tp = parseTraceparent(got.find((g) => g.payload === "otlp-traced")!.traceparent)!;
    const plainTp = parseTraceparent(got.find((g) => g.payload === "otlp-plain")!.traceparent)!;
    expect(tp.traceId).toBe(device.traceId);
    await gw.tracing!.flush();
    await until("spans at the receiver", () => rx.spans.filter((s) => s.traceId === device.traceId).length >= 2, 15000);
    expect(rx.problems).toEqual([]);

    const uplink = rx.spans.find((s) => s.name === SPAN.UPLINK && s.traceId === device.traceId)!;
    expect(uplink.parentSpanId).toBe(device.spanId);
    expect(uplink.kind).toBe(OTLP_KIND_CONSUMER);
    expect(uplink.attributes).toMatchObject({
      [ATTR.DEVICE]: "dev1",
      [ATTR.CHANNEL]: 1,
      [ATTR.QOS]: 1,
      [ATTR.TOPIC]: "qn/dev1/telemetry",
    });
    const publish = rx.spans.find((s) => s.name === SPAN.PUBLISH && s.traceId === device.traceId)!;
    expect(publish.parentSpanId).toBe(uplink.spanId);
    expect(publish.kind).toBe(OTLP_KIND_PRODUCER);
    expect(publish.attributes).toMatchObject({ [ATTR.SYSTEM]: "mqtt", [ATTR.TOPIC]: "qn/dev1/telemetry" });
    // What the broker's subscriber sees as its parent is the publish span.
    expect(tp.spanId).toBe(publish.spanId);
    expect(uplink.resource).toMatchObject({ [RESOURCE.SERVICE_NAME]: SERVICE, [RESOURCE.ENVIRONMENT]: "ci" });
    expect(rx.headers.every((h) => h["x-qn-tenant"] === "lab-7")).toBe(true);
    // The chain, for the report.
    console.log(
      `OTLP receiver: device ${device.spanId} -> ${uplink.name} ${uplink.spanId} (parent ${uplink.parentSpanId}) -> ${publish.name} ${publish.spanId} (parent ${publish.parentSpanId}) -> subscriber traceparent ${got.find((g) => g.payload === "otlp-traced")!.traceparent}; trace ${device.traceId}`,
    );
    // The trace the gateway started, at ratio 0: not recorded, not sent,
    // and marked not sampled on MQTT.
    expect(rx.spans.filter((s) => s.traceId === plainTp.traceId)).toEqual([]);
    expect(plainTp.traceFlags & 1).toBe(0);
  }, 40000);

  it("sends the chain back: MQTT client -> qn downlink -> device (its echo) -> qn uplink -> mqtt publish", async () => {
    const client: TraceContext = { traceId: newTraceId(), spanId: newSpanId(), traceFlags: 1 };
    await new Promise<void>((r, j) =>
      pub.publish(
        "qn/dev1/cmd",
        "otlp-cmd",
        { qos: 1, properties: { userProperties: { traceparent: formatTraceparent(client) } } },
        (e) => (e ? j(e) : r()),
      ),
    );
    // The device (host/sim-device.ts) echoes QoS 1 DATA as received, the
    // context the gateway put in the frame included.
    await until("echo at the subscriber", () =>
      got.some((g) => g.topic === "qn/dev1/echo" && g.payload === "otlp-cmd"),
    );
    await gw.tracing!.flush();
    const inTrace = () => rx.spans.filter((s) => s.traceId === client.traceId);
    await until("three spans of the command's trace", () => inTrace().length >= 3, 15000);
    const down = inTrace().find((s) => s.name === SPAN.DOWNLINK)!;
    expect(down.parentSpanId).toBe(client.spanId);
    expect(down.attributes).toMatchObject({
      [ATTR.DEVICE]: "dev1",
      [ATTR.TOPIC]: "qn/dev1/cmd",
      "qn.frame.traced": true,
    });
    const up = inTrace().find((s) => s.name === SPAN.UPLINK)!;
    expect(up.parentSpanId).toBe(down.spanId);
    const publish = inTrace().find((s) => s.name === SPAN.PUBLISH)!;
    expect(publish.parentSpanId).toBe(up.spanId);
    const echo = parseTraceparent(got.find((g) => g.topic === "qn/dev1/echo")!.traceparent)!;
    expect(echo.spanId).toBe(publish.spanId);
    console.log(
      `OTLP receiver: client ${client.spanId} -> ${down.name} ${down.spanId} -> device echo -> ${up.name} ${up.spanId} -> ${publish.name} ${publish.spanId} -> subscriber; trace ${client.traceId}`,
    );
  }, 40000);
});

describe("a collector that refuses the spans", () => {
  it("is one warning in the gateway's log, not one per batch", async () => {
    const lines: { msg: string; err?: string }[] = [];
    const log = pino({ level: "warn" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    // Answers every export with 400 (not retried by the exporter).
    let posts = 0;
    const refuser = createServer((req, res) => {
      posts++;
      req.resume();
      req.on("end", () => {
        res.writeHead(400, { "content-type": "application/json" });
        res.end('{"code":3,"message":"refused by the test"}');
      });
    });
    await new Promise<void>((r) => refuser.listen(0, "127.0.0.1", () => r()));
    const port = (refuser.address() as { port: number }).port;
    const t = OtlpTracing.start(
      { otlp: { endpoint: `http://127.0.0.1:${port}/v1/traces`, headers: {}, sampling_ratio: 1 } },
      "ci",
      log,
    );
    expect(t).toBeDefined();
    try {
      for (let i = 0; i < 3; i++) {
        startSpan(SPAN.RELOAD).end();
        await t!.flush();
      }
    } finally {
      await t!.shutdown();
      refuser.closeAllConnections();
      await new Promise<void>((r) => refuser.close(() => r()));
    }
    expect(posts).toBe(3);
    const problems = lines.filter((l) => l.msg === "span export problem");
    expect(problems).toHaveLength(1);
    expect(problems[0].err).toMatch(/span export failed/);
  });

  it("a different problem is a line of its own", () => {
    const lines: { err?: string }[] = [];
    const p = exportProblems(pino({ level: "warn" }, { write: (s: string) => void lines.push(JSON.parse(s)) }));
    p.error("export failed:", new Error("ECONNREFUSED"));
    p.error("export failed:", new Error("ECONNREFUSED"));
    p.warn("export failed:", new Error("timeout"));
    p.error("export failed:", new Error("ECONNREFUSED"));
    expect(lines.map((l) => l.err)).toEqual([
      "export failed: ECONNREFUSED",
      "export failed: timeout",
      "export failed: ECONNREFUSED",
    ]);
  });
});
