// The gateway's log: pino JSON lines with the fields log pipelines key on
// (docs/OPERATIONS.md "Logs"): `service`, `environment`, `level` as text,
// `event` (a stable name for what happened), `device` on a link's lines,
// `trace_id` and `span_id` on the lines of a message's work.
//
// `event` is given by the table below for each line the gateway writes,
// so call sites keep their readable message; a line written with its own
// `event` (a device event record) keeps it, and a message missing from the
// table gets one made from its words.
import pino, { type Logger, type DestinationStream, type LevelWithSilent } from "pino";

export const SERVICE = "qn-gateway";

/** Event names by message. Stable: dashboards and log queries use them. */
export const EVENTS: Readonly<Record<string, string>> = {
  "gateway started": "gateway.started",
  "gateway stopped": "gateway.stopped",
  "no devices configured: nothing is bridged until a reload adds some": "gateway.no_devices",
  "config reloaded": "config.reloaded",
  "reload refused; the running config stays": "config.reload_refused",
  "device link failed to start": "link.start_failed",
  "device has no channels: every message it sends is dropped and no command reaches it": "link.no_channels",
  "waiting for the device": "link.waiting",
  "session up": "link.up",
  "link down": "link.down",
  "connection closed": "link.connection_closed",
  "link stopped": "link.stopped",
  "handshake failed; closing the connection": "link.handshake_failed",
  "cannot start the session": "link.session_failed",
  "connection refused before the handshake completed; the link stays as it was": "link.connection_refused",
  "the device proved its key on a new connection: it replaces the previous one": "link.taken_over",
  "TLS client refused": "link.tls_refused",
  "TLS handshake refused": "link.tls_refused",
  "serial port not available; retrying every 2 s": "link.serial_unavailable",
  "serial port open": "link.serial_open",
  "probe failed": "probe.failed",
  "probe answered again": "probe.recovered",
  "broker connected": "broker.connected",
  "broker offline; queueing": "broker.offline",
  "broker error": "broker.error",
  "broker queue full: pausing device links": "broker.queue_full",
  "broker queue has room: resuming device links": "broker.queue_room",
  "broker lost our session: republishing unacknowledged messages": "broker.session_lost",
  "broker lost our session: delivering a QoS 2 command it will not release": "broker.session_lost",
  "subscribe failed": "broker.subscribe_failed",
  "broker refused a publish; retrying": "broker.publish_refused",
  "spool: resending messages the broker had not acknowledged": "spool.replay",
  uplink: "message.uplink",
  published: "message.published",
  "publish failed; requeued": "message.publish_failed",
  downlink: "message.downlink",
  "message on an unmapped channel dropped": "message.unmapped",
  "broker queue full: QoS 0 message dropped": "message.dropped",
  "downlink queue full: message dropped": "message.dropped",
  "command refused by the device link: dropped": "message.refused",
  "downlink queue full: command refused (reason code 0x97, quota exceeded)": "message.refused",
  "downlink queue over its bound: command kept (MQTT 3.1.1 cannot refuse it)": "message.over_bound",
  "downlink queue: commands for a device no longer configured dropped": "message.dropped",
  "invalid trace context in a frame: starting a new trace": "trace.invalid_context",
  "command with an invalid traceparent: starting a new trace": "trace.invalid_context",
  "device config applied": "device.config_applied",
  "device refused the config; it keeps its old one": "device.config_refused",
  "config push failed": "device.config_push_failed",
  "device event": "device.event",
  "exporting spans over OTLP": "tracing.export_started",
  "a tracer provider is registered already: gateway.tracing.otlp is not used, spans go to that provider":
    "tracing.provider_kept",
  "span export problem": "tracing.export_problem",
  "journal flush failed: the command stays queued on disk (sent again after a restart)": "journal.flush_failed",
  "cannot tell the core its link is paused": "link.pause_failed",
  "downlink routing failed": "message.routing_failed",
  "downlink queue: cannot save a command; not acknowledging it (the broker will send it again)": "message.save_failed",
};

/** The event name of a message: from the table, else its words up to the
 *  first ':' or ';' ("spool: corrupt file" gives "spool"). */
export function eventOf(msg: string): string {
  const known = EVENTS[msg];
  if (known) return known;
  const words = msg
    .split(/[:;(]/)[0]
    .toLowerCase()
    .match(/[a-z0-9]+/g) ?? ["log"];
  return words.slice(0, 6).join("_");
}

export interface LogOptions {
  level: LevelWithSilent;
  environment: string;
}

/** The gateway's logger; `destination` defaults to stdout. */
export function createLogger(o: LogOptions, destination?: DestinationStream): Logger {
  return pino(
    {
      level: o.level,
      base: { service: SERVICE, environment: o.environment, pid: process.pid },
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        logMethod(args, method) {
          const [first, second] = args as unknown[];
          if (typeof first === "string") return method.apply(this, [{ event: eventOf(first) }, ...args] as never);
          if (first && typeof first === "object" && typeof second === "string" && !("event" in first))
            return method.apply(this, [{ ...first, event: eventOf(second) }, ...args.slice(1)] as never);
          return method.apply(this, args);
        },
      },
    },
    destination,
  );
}
