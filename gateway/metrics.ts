// Prometheus metrics (prom-client), one registry per gateway. Counters the
// core keeps itself (frames, CRC errors, auth failures, retransmissions)
// are read from each device's core at scrape time, so they are never out
// of step with the core.
import { Registry, Counter, Gauge, Histogram } from "prom-client";

export function createMetrics() {
  const registry = new Registry();
  const dev = ["device"] as const;
  const m = {
    registry,
    linkUp: new Gauge({
      name: "qn_link_up",
      help: "1 when the device's session is up",
      labelNames: dev,
      registers: [registry],
    }),
    linkUps: new Counter({
      name: "qn_link_up_total",
      help: "Sessions established",
      labelNames: dev,
      registers: [registry],
    }),
    linkDowns: new Counter({
      name: "qn_link_down_total",
      help: "Sessions lost",
      labelNames: dev,
      registers: [registry],
    }),
    framesIn: new Gauge({
      name: "qn_frames_in",
      help: "Frames received from the device (core counter)",
      labelNames: dev,
      registers: [registry],
    }),
    framesOut: new Gauge({
      name: "qn_frames_out",
      help: "Frames sent to the device (core counter)",
      labelNames: dev,
      registers: [registry],
    }),
    crcErrors: new Gauge({
      name: "qn_crc_errors",
      help: "Frames dropped for a bad CRC (core counter)",
      labelNames: dev,
      registers: [registry],
    }),
    authFailures: new Gauge({
      name: "qn_auth_failures",
      help: "Frames or handshakes failing authentication (core counter)",
      labelNames: dev,
      registers: [registry],
    }),
    retransmissions: new Gauge({
      name: "qn_retransmissions",
      help: "QoS retransmissions (core counter)",
      labelNames: dev,
      registers: [registry],
    }),
    qosInFlight: new Gauge({
      name: "qn_qos_in_flight",
      help: "QoS 1 and 2 messages to the device not yet acknowledged (the core counts both levels together)",
      labelNames: dev,
      registers: [registry],
    }),
    journalBytes: new Gauge({
      name: "qn_journal_bytes",
      help: "Size of the device's journal file",
      labelNames: dev,
      registers: [registry],
    }),
    poolInUse: new Gauge({
      name: "qn_device_pool_in_use",
      help: "Pool blocks in use, as the device reports in IDENT",
      labelNames: dev,
      registers: [registry],
    }),
    poolHighWater: new Gauge({
      name: "qn_device_pool_high_water",
      help: "Pool blocks high water, as the device reports in IDENT",
      labelNames: dev,
      registers: [registry],
    }),
    uplink: new Counter({
      name: "qn_uplink_messages_total",
      help: "Messages from devices handed to the bridge",
      labelNames: ["device", "qos"],
      registers: [registry],
    }),
    downlink: new Counter({
      name: "qn_downlink_messages_total",
      help: "Messages from MQTT accepted by a device's core",
      labelNames: ["device", "qos"],
      registers: [registry],
    }),
    traceInvalid: new Counter({
      name: "qn_trace_context_invalid_total",
      help: "TRACE frames whose trace context was not valid (a new trace was started)",
      labelNames: dev,
      registers: [registry],
    }),
    downlinkRefused: new Counter({
      name: "qn_downlink_refused_total",
      help: "Commands the device link can never send (too long for a frame): dropped",
      labelNames: dev,
      registers: [registry],
    }),
    downlinkQueueFull: new Counter({
      name: "qn_downlink_queue_full_total",
      help: "Commands arriving while the device's downlink queue was at mqtt.queue_limit (MQTT 5 QoS 1/2: refused with 0x97; QoS 0: dropped; MQTT 3.1.1 QoS 1/2: kept over the bound)",
      labelNames: dev,
      registers: [registry],
    }),
    deviceEvents: new Counter({
      name: "qn_device_events_total",
      help: "Device event records merged into the gateway log",
      labelNames: ["device", "event"],
      registers: [registry],
    }),
    unmapped: new Counter({
      name: "qn_unmapped_messages_total",
      help: "Device messages on a channel with no uplink mapping (dropped)",
      labelNames: dev,
      registers: [registry],
    }),
    rtt: new Histogram({
      name: "qn_rtt_seconds",
      help: "Round-trip time of a PING to the device",
      labelNames: dev,
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "qn_broker_queue_depth",
      help: "Messages waiting for the broker (spooled and in flight)",
      registers: [registry],
    }),
    queueLimit: new Gauge({ name: "qn_broker_queue_limit", help: "mqtt.queue_limit", registers: [registry] }),
    queueFull: new Counter({
      name: "qn_broker_queue_full_total",
      help: "Times the queue reached its limit (device links paused, nothing dropped)",
      registers: [registry],
    }),
    qos0Dropped: new Counter({
      name: "qn_broker_qos0_dropped_total",
      help: "QoS 0 messages dropped while the queue was full",
      registers: [registry],
    }),
    published: new Counter({
      name: "qn_broker_published_total",
      help: "Messages the broker acknowledged (QoS 0: written)",
      labelNames: ["qos"],
      registers: [registry],
    }),
    brokerUp: new Gauge({ name: "qn_broker_connected", help: "1 when connected to the broker", registers: [registry] }),
    spoolBytes: new Gauge({ name: "qn_spool_bytes", help: "Size of the uplink spool file", registers: [registry] }),
    reloads: new Counter({
      name: "qn_config_reloads_total",
      help: "Config reloads",
      labelNames: ["result"],
      registers: [registry],
    }),
    configPush: new Counter({
      name: "qn_device_config_push_total",
      help: "T_CONFIG pushes to devices",
      labelNames: ["device", "result"],
      registers: [registry],
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
