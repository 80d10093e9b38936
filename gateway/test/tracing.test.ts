// Traces through the gateway with the real parts (mosquitto, an emulated
// device over TCP) and an in-memory OpenTelemetry SDK: the spans of an
// uplink message, a command and a reload, their parents and attributes;
// the trace ids in the log lines; the W3C context carried in QN frames and
// as the MQTT 5 `traceparent` user property, end to end in both directions;
// and the same ids flowing when no tracer provider is registered.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { connect, type MqttClient } from "mqtt";
import { trace, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import {
  encodeTraceBytes,
  formatTraceparent,
  parseTraceparent,
  newSpanId,
  newTraceId,
  TRACE_BYTES,
  type TraceContext,
} from "../../host/trace.ts";
import { Gateway } from "../gateway.ts";
import { SPAN, ATTR } from "../tracing.ts";
import { startDevice, Mosquitto, type TcpDevice, freePort, until, writeDevKey } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "qn-trace-"));
const lines: any[] = [];
const logger = pino(
  { level: "trace" },
  {
    write: (s: string) => {
      lines.push(JSON.parse(s));
    },
  },
);
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

interface Got {
  topic: string;
  payload: string;
  traceparent?: string;
}

function configText(broker: number, ops: number, dev: number, heartbeat = 200): string {
  return `gateway:
  ops: { listen: "127.0.0.1:${ops}", token_file: ops.token }
  spool: mqtt.spool
  log_level: trace
mqtt: { url: "mqtt://127.0.0.1:${broker}", topic_prefix: qn }
devices:
  - id: dev1
    transport: { tcp: { listen: "127.0.0.1:${dev}" } }
    key_file: k.hex
    journal: dev1.journal
    heartbeat_ms: ${heartbeat}
    channels:
      - { channel: 1, topic: telemetry, qos: 1, direction: up }
      - { channel: 5, topic: echo, qos: 1, direction: up }
      - { channel: 5, topic: cmd, qos: 1, direction: down }
`;
}

describe("tracing through the gateway", () => {
  let broker: Mosquitto, gw: Gateway, sub: MqttClient, pub: MqttClient, dev: TcpDevice;
  let ports: { broker: number; ops: number; dev: number };
  const got: Got[] = [];
  const cfg = join(dir, "gateway.yaml");

  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider);
    ports = { broker: await freePort(), ops: await freePort(), dev: await freePort() };
    broker = new Mosquitto(ports.broker);
    await broker.start();
    writeDevKey(dir);
    writeFileSync(cfg, configText(ports.broker, ports.ops, ports.dev));
    gw = Gateway.fromFile(cfg, { log: logger });
    await gw.start({ ops: false });
    sub = connect(broker.url, { clientId: "qn-trace-sub", protocolVersion: 5, reconnectPeriod: 200 });
    sub.on("message", (topic, payload, packet) => {
      const tp = packet.properties?.userProperties?.traceparent;
      got.push({ topic, payload: payload.toString(), traceparent: typeof tp === "string" ? tp : undefined });
    });
    await new Promise<void>((r) => sub.once("connect", () => sub.subscribe("qn/#", { qos: 1 }, () => r())));
    pub = connect(broker.url, { clientId: "qn-trace-pub", protocolVersion: 5, reconnectPeriod: 200 });
    await new Promise<void>((r) => pub.once("connect", () => r()));
    dev = await startDevice(gw, "dev1", ports.dev, join(dir, "k.hex"));
  }, 30000);

  afterAll(async () => {
    await dev?.stop();
    await gw?.stop();
    sub?.end(true);
    pub?.end(true);
    await broker?.stop();
    trace.disable();
    await provider.shutdown();
  });

  const spans = () => exporter.getFinishedSpans();
  const byId = (spanId: string) => spans().find((s) => s.spanContext().spanId === spanId);
  const childOf = (name: string, parent: string) =>
    spans().filter((s) => s.name === name && s.parentSpanContext?.spanId === parent);
  const message = (topic: string, payload: string) => got.find((g) => g.topic === topic && g.payload === payload);
  const linesWith = (msg: string, spanId: string) => lines.filter((l) => l.msg === msg && l.span_id === spanId);
  const ctx = (): TraceContext => ({ traceId: newTraceId(), spanId: newSpanId(), traceFlags: 1 });
  const session = () => gw.links.get("dev1")!.sessionId;

  it("starts a trace for a message without a context: uplink span, publish span as its child, its traceparent on MQTT", async () => {
    const packet = dev.publishBody(1, 1, Buffer.from("plain-1"));
    expect(packet).toBeGreaterThan(0);
    await until("message at the subscriber", () => !!message("qn/dev1/telemetry", "plain-1"));
    const tp = parseTraceparent(message("qn/dev1/telemetry", "plain-1")!.traceparent)!;
    expect(tp).not.toBeNull();
    await until(
      "spans ended",
      () => !!byId(tp.spanId) && spans().some((s) => s.name === SPAN.UPLINK && s.spanContext().traceId === tp.traceId),
    );
    const publish = byId(tp.spanId)!;
    expect(publish.name).toBe(SPAN.PUBLISH);
    expect(publish.kind).toBe(SpanKind.PRODUCER);
    const uplink = byId(publish.parentSpanContext!.spanId)!;
    expect(uplink.name).toBe(SPAN.UPLINK);
    expect(uplink.parentSpanContext).toBeUndefined(); // a new trace
    expect(uplink.spanContext().traceId).toBe(tp.traceId);
    expect(uplink.attributes).toMatchObject({
      [ATTR.DEVICE]: "dev1",
      [ATTR.SESSION]: session(),
      [ATTR.CHANNEL]: 1,
      [ATTR.PACKET]: packet,
      [ATTR.QOS]: 1,
      [ATTR.TOPIC]: "qn/dev1/telemetry",
    });
    expect(session()).toBeGreaterThan(0);
    expect(publish.attributes).toMatchObject({
      [ATTR.TOPIC]: "qn/dev1/telemetry",
      [ATTR.QOS]: 1,
      [ATTR.SYSTEM]: "mqtt",
      [ATTR.DEVICE]: "dev1",
    });
    // The uplink span lasts until the broker has the message: it ends
    // after its publish span (spans are exported as they end).
    expect(spans().indexOf(uplink)).toBeGreaterThan(spans().indexOf(publish));
    // Log lines of this message carry its ids.
    const up = linesWith("uplink", uplink.spanContext().spanId);
    expect(up).toHaveLength(1);
    expect(up[0]).toMatchObject({
      device: "dev1",
      trace_id: tp.traceId,
      packet,
      channel: 1,
      qos: 1,
      session: session(),
    });
    expect(linesWith("published", publish.spanContext().spanId)[0]).toMatchObject({
      trace_id: tp.traceId,
      device: "dev1",
    });
  });

  it("makes a device's trace context the uplink span's parent and strips it before MQTT", async () => {
    const c = ctx();
    expect(dev.publishBody(1, 1, Buffer.from("traced-1"), encodeTraceBytes(c))).toBeGreaterThan(0);
    await until("message at the subscriber", () => !!message("qn/dev1/telemetry", "traced-1"));
    const tp = parseTraceparent(message("qn/dev1/telemetry", "traced-1")!.traceparent)!;
    expect(tp.traceId).toBe(c.traceId);
    await until("uplink span", () => childOf(SPAN.UPLINK, c.spanId).length === 1);
    const uplink = childOf(SPAN.UPLINK, c.spanId)[0];
    expect(uplink.parentSpanContext).toMatchObject({ traceId: c.traceId, spanId: c.spanId, isRemote: true });
    expect(byId(tp.spanId)!.parentSpanContext!.spanId).toBe(uplink.spanContext().spanId);
    // The subscriber got the application bytes only: the 26 bytes are gone.
    expect(got.filter((g) => g.payload.endsWith("traced-1")).map((g) => g.payload)).toEqual(["traced-1"]);
  });

  it("follows a command end to end: MQTT traceparent -> downlink span -> context in the frame -> the device's echo -> MQTT, one trace", async () => {
    const c = ctx();
    await new Promise<void>((r, j) =>
      pub.publish(
        "qn/dev1/cmd",
        "cmd-1",
        { qos: 1, properties: { userProperties: { traceparent: formatTraceparent(c) } } },
        (e) => (e ? j(e) : r()),
      ),
    );
    // The device (host/sim-device.ts, like the firmware) echoes QoS 1 DATA
    // as received, trace context included, on the same channel.
    await until("echo at the subscriber", () => !!message("qn/dev1/echo", "cmd-1"));
    const down = childOf(SPAN.DOWNLINK, c.spanId);
    expect(down).toHaveLength(1);
    expect(down[0].spanContext().traceId).toBe(c.traceId);
    expect(down[0].kind).toBe(SpanKind.CONSUMER);
    expect(down[0].attributes).toMatchObject({
      [ATTR.DEVICE]: "dev1",
      [ATTR.CHANNEL]: 5,
      [ATTR.QOS]: 1,
      [ATTR.TOPIC]: "qn/dev1/cmd",
      [ATTR.SESSION]: session(),
      "qn.frame.traced": true,
    });
    expect(down[0].attributes[ATTR.PACKET]).toBeGreaterThan(0);
    // The echo's uplink span is a child of the downlink span: the device
    // got the downlink span's context in the frame and sent it back.
    const up = childOf(SPAN.UPLINK, down[0].spanContext().spanId);
    expect(up).toHaveLength(1);
    expect(parseTraceparent(message("qn/dev1/echo", "cmd-1")!.traceparent)!.traceId).toBe(c.traceId);
    expect(linesWith("downlink", down[0].spanContext().spanId)[0]).toMatchObject({
      trace_id: c.traceId,
      channel: 5,
      qos: 1,
    });
  });

  it("starts a new trace for a command whose traceparent is not valid, and says so", async () => {
    const bad = "00-" + "0".repeat(32) + "-00f067aa0ba902b7-01";
    await new Promise<void>((r, j) =>
      pub.publish("qn/dev1/cmd", "cmd-bad", { qos: 1, properties: { userProperties: { traceparent: bad } } }, (e) =>
        e ? j(e) : r(),
      ),
    );
    await until("echo at the subscriber", () => !!message("qn/dev1/echo", "cmd-bad"));
    expect(lines.some((l) => l.msg?.includes("invalid traceparent") && l.traceparent === bad)).toBe(true);
    const tp = parseTraceparent(message("qn/dev1/echo", "cmd-bad")!.traceparent)!;
    const root = spans().filter((s) => s.name === SPAN.DOWNLINK && s.spanContext().traceId === tp.traceId);
    expect(root).toHaveLength(1);
    expect(root[0].parentSpanContext).toBeUndefined();
  });

  it("strips an invalid context from a frame, starts a new trace and counts it", async () => {
    const zero = new Uint8Array(TRACE_BYTES); // all-zero ids: not a valid context
    expect(dev.publishBody(1, 1, Buffer.from("zero-ctx"), zero)).toBeGreaterThan(0);
    await until("message at the subscriber", () => !!message("qn/dev1/telemetry", "zero-ctx"));
    const tp = parseTraceparent(message("qn/dev1/telemetry", "zero-ctx")!.traceparent)!;
    expect(tp.traceId).not.toBe("0".repeat(32));
    const m = await gw.metrics.registry.getSingleMetricAsString("qn_trace_context_invalid_total");
    expect(m).toMatch(/qn_trace_context_invalid_total\{device="dev1"\} 1/);
    expect(lines.some((l) => l.msg?.startsWith("invalid trace context in a frame"))).toBe(true);
  });

  it("records a reload with its config pushes as children", async () => {
    writeFileSync(cfg, configText(ports.broker, ports.ops, ports.dev, 300));
    const r = await gw.reload();
    expect(r.pushed).toEqual(["dev1"]);
    const reload = spans().filter((s) => s.name === SPAN.RELOAD);
    expect(reload).toHaveLength(1);
    await until("push span", () => childOf(SPAN.CONFIG_PUSH, reload[0].spanContext().spanId).length > 0);
    const push = childOf(SPAN.CONFIG_PUSH, reload[0].spanContext().spanId);
    expect(push).toHaveLength(1);
    expect(push[0].status.code).not.toBe(SpanStatusCode.ERROR);
    expect(push[0].attributes).toMatchObject({
      [ATTR.DEVICE]: "dev1",
      [ATTR.SESSION]: session(),
      "qn.config.status": 0,
    });
    expect(linesWith("device config applied", push[0].spanContext().spanId)[0]).toMatchObject({
      trace_id: reload[0].spanContext().traceId,
    });
    expect(linesWith("config reloaded", reload[0].spanContext().spanId)).toHaveLength(1);
  });

  it("keeps the ids flowing with no tracer provider registered (the API's no-op tracer)", async () => {
    trace.disable();
    const c = ctx();
    expect(dev.publishBody(1, 1, Buffer.from("noop-1"), encodeTraceBytes(c))).toBeGreaterThan(0);
    await until("message at the subscriber", () => !!message("qn/dev1/telemetry", "noop-1"));
    const tp = parseTraceparent(message("qn/dev1/telemetry", "noop-1")!.traceparent)!;
    expect(tp.traceId).toBe(c.traceId);
    expect(tp.spanId).not.toBe(c.spanId); // the gateway's own hop
    const up = lines.filter((l) => l.msg === "uplink" && l.trace_id === c.traceId);
    expect(up).toHaveLength(1);
    expect(up[0].span_id).toMatch(/^[0-9a-f]{16}$/);
    expect(up[0].span_id).not.toBe(c.spanId);
    // Without a context the gateway still starts a valid trace.
    expect(dev.publishBody(1, 1, Buffer.from("noop-2"))).toBeGreaterThan(0);
    await until("message at the subscriber", () => !!message("qn/dev1/telemetry", "noop-2"));
    const tp2 = parseTraceparent(message("qn/dev1/telemetry", "noop-2")!.traceparent)!;
    expect(tp2).not.toBeNull();
    // Nothing recorded for either message.
    expect(spans().filter((s) => [c.traceId, tp2.traceId].includes(s.spanContext().traceId))).toEqual([]);
  });
});
