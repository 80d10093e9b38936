// OpenTelemetry spans of the gateway, through @opentelemetry/api only.
// Where they go is the registered tracer provider's business: the OTLP
// exporter of gateway.tracing.otlp (otel.ts), one a user registered (for
// example with NODE_OPTIONS="--import ./otel.mjs", see README "Tracing"),
// or none, and then the API's no-op tracer is used.
//
// The trace ids do not depend on that choice: with the no-op tracer a span
// has no ids of its own, so startSpan() gives it fresh W3C ids (or the
// parent's trace id and a new span id). Logs (trace_id, span_id), the MQTT
// `traceparent` user property and the context in QN frames then carry the
// same ids whether or not anything records the spans, so a trace begun on a
// device can still be followed after the gateway by whoever records it.
//
// No context manager is assumed either (the API's default keeps no async
// context): parents are passed explicitly, as a Span or a remote context.
import {
  trace,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  isSpanContextValid,
  type Span,
  type SpanContext,
  type Attributes,
  type Context,
} from "@opentelemetry/api";
import { formatTraceparent, newSpanId, newTraceId, type TraceContext } from "../host/trace.ts";

export { SpanKind, type Span };

export const TRACER_NAME = "qn-gateway";

/** Span names, one per kind of work. */
export const SPAN = {
  UPLINK: "qn uplink", // a device message, from its frame to the broker's acknowledgement
  PUBLISH: "mqtt publish", // one PUBLISH of it to the broker (a retry is a new span)
  DOWNLINK: "qn downlink", // an MQTT command, from its arrival to the device's core taking it
  CONFIG_PUSH: "qn config push", // one T_CONFIG exchange with a device
  RELOAD: "qn reload", // a config reload (its pushes are children)
} as const;

/** Attribute keys (messaging.* from the OpenTelemetry conventions). */
export const ATTR = {
  DEVICE: "qn.device.id",
  SESSION: "qn.session.id",
  CHANNEL: "qn.channel",
  PACKET: "qn.packet.id",
  QOS: "qn.qos",
  TOPIC: "messaging.destination.name",
  SYSTEM: "messaging.system",
  SPOOL_SEQ: "qn.spool.seq",
} as const;

export interface StartOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** A local parent span. */
  parent?: Span;
  /** A parent from elsewhere (a frame's context, an MQTT traceparent). */
  remote?: TraceContext | null;
}

/** The API's no-op provider (what a ProxyTracerProvider delegates to
 *  until a provider is registered). */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/** A tracer provider is registered: spans are recorded somewhere. */
function recording(): boolean {
  const p = trace.getTracerProvider();
  return (p instanceof ProxyTracerProvider ? p.getDelegate() : p) !== NOOP_PROVIDER;
}

export function startSpan(name: string, o: StartOptions = {}): Span {
  // Nothing records spans (the usual case on the message path): only the
  // ids are needed, made here without the API's context and tracer calls.
  if (!recording()) return idsOnly(o.parent ? o.parent.spanContext() : o.remote);
  let ctx: Context = ROOT_CONTEXT;
  if (o.parent) ctx = trace.setSpan(ctx, o.parent);
  else if (o.remote) ctx = trace.setSpanContext(ctx, { ...o.remote, isRemote: true });
  const span = trace
    .getTracer(TRACER_NAME)
    .startSpan(name, { kind: o.kind ?? SpanKind.INTERNAL, attributes: o.attributes }, ctx);
  const sc = span.spanContext(),
    parent = trace.getSpanContext(ctx);
  if (isSpanContextValid(sc) && sc.spanId !== parent?.spanId) return span;
  // A provider that made no ids of its own (or its parent's): give it some.
  return idsOnly(parent);
}

/** A span that records nothing, with fresh ids: a child of `parent` if it
 *  is valid, else the root of a new trace. */
function idsOnly(parent: TraceContext | SpanContext | null | undefined): Span {
  const inherit = parent && isSpanContextValid(parent);
  return trace.wrapSpanContext({
    traceId: inherit ? parent.traceId : newTraceId(),
    spanId: newSpanId(),
    // A trace the gateway starts is marked sampled, so a downstream
    // parent-based sampler records it.
    traceFlags: inherit ? parent.traceFlags : TraceFlags.SAMPLED,
  });
}

/** trace_id and span_id for a pino line. */
export function logIds(span: Span): { trace_id: string; span_id: string } {
  const c = span.spanContext();
  return { trace_id: c.traceId, span_id: c.spanId };
}

export function contextOf(span: Span): TraceContext {
  const c = span.spanContext();
  return { traceId: c.traceId, spanId: c.spanId, traceFlags: c.traceFlags };
}

export function traceparentOf(span: Span): string {
  return formatTraceparent(contextOf(span));
}

/** End a span as failed, with the reason. */
export function endError(span: Span, message: string): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.end();
}
