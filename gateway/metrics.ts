// Prometheus metrics (prom-client), one registry per gateway, named and
// typed by the Prometheus conventions: a counter is a counter and ends in
// `_total`, a time is a histogram in seconds.
//
// Per-device series: every device has its own unless gateway.metrics
// .per_device is false (a fleet gateway); then only the devices in
// device_allow do and the others are summed under device="(others)", so
// the series stay bounded by the allow-list, and a sum over `device` is
// the fleet's total either way. Histograms carry no device label at all.
//
// The counters the core keeps (frames, CRC errors, auth failures,
// retransmissions) restart with every new core (a reconnect) and wrap at
// 2^32: the link adds what changed since its last read to the `_total`
// counters (link-counters.ts). Link gauges are read from the links at
// scrape time (setLinkSource).
import { Registry, Counter, Gauge, Histogram } from "prom-client";
import { OTHER_DEVICES, type MetricsConfig } from "./config-ops.ts";

/** Circuit-breaker states of a link: closed (session up, traffic flows),
 *  half_open (a handshake is under way), open (no session: sends fail fast). */
export const BREAKER_STATES = ["closed", "half_open", "open"] as const;
export type BreakerState = (typeof BREAKER_STATES)[number];

/** The states of a device link (DeviceLink.state; qn_links counts each). */
export const LINK_STATES = ["starting", "waiting", "handshake", "up", "down", "stopped"] as const;

/** The core counters exported as `_total` counters, and the gauge each
 *  one replaces (kept for one release, marked deprecated). */
export const CORE_COUNTERS = {
  framesIn: { name: "qn_frames_in_total", old: "qn_frames_in", help: "Frames received from the device" },
  framesOut: { name: "qn_frames_out_total", old: "qn_frames_out", help: "Frames sent to the device" },
  crcErrors: { name: "qn_crc_errors_total", old: "qn_crc_errors", help: "Frames dropped for a bad CRC" },
  authFailures: {
    name: "qn_auth_failures_total",
    old: "qn_auth_failures",
    help: "Frames or handshakes failing authentication",
  },
  retransmissions: { name: "qn_retransmissions_total", old: "qn_retransmissions", help: "QoS retransmissions" },
} as const;
export type CoreCounterKey = keyof typeof CORE_COUNTERS;

/** What a link reports at scrape time. */
export interface LinkSample {
  id: string;
  state: (typeof LINK_STATES)[number];
  up: boolean;
  breaker: BreakerState;
  journalBytes: number;
  qosInFlight: number;
  poolInUse?: number;
  poolHighWater?: number;
  /** The current core's own counters (the deprecated gauges show them). */
  core?: Record<CoreCounterKey, number>;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const HANDSHAKE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const FLUSH_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const RTT_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2];

const DEPRECATED = "DEPRECATED, removed in the next release: use";

export function createMetrics(opts: Partial<MetricsConfig> = {}) {
  const registry = new Registry();
  const perDevice = opts.per_device ?? true;
  const allow = new Set(opts.device_allow ?? []);
  /** The device label of a device's series. */
  const device = (id: string): string => (perDevice || allow.has(id) ? id : OTHER_DEVICES);
  let links: () => Iterable<LinkSample> = () => [];
  /** The uplink queue's depth and the spool's size, read at scrape time
   *  (they change with every message). */
  let queue: () => { depth: number; spoolBytes: number } = () => ({ depth: 0, spoolBytes: 0 });
  /** A gauge summed per device label over the links at scrape time. */
  const linkGauge = (name: string, help: string, value: (s: LinkSample) => number | undefined, extra = "") =>
    new Gauge({
      name,
      help: help + extra,
      labelNames: ["device"],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of links()) {
          const v = value(s);
          if (v !== undefined) this.inc({ device: device(s.id) }, v);
        }
      },
    });
  const dev = ["device"] as const;
  /** Message-path counts by (device, qos): plain numbers bumped per
   *  message, handed to the counter at scrape time (prom-client hashes the
   *  labels on every inc(), several times the cost of the count). A cell
   *  outlives its link, so the counter never goes back. */
  const uplinkCells = new Map<string, { labels: { device: string; qos: string }; n: number }>();
  const core = <K extends CoreCounterKey>(k: K) =>
    new Counter({
      name: CORE_COUNTERS[k].name,
      help: `${CORE_COUNTERS[k].help} (the core's counter, over every session since the gateway started)`,
      labelNames: dev,
      registers: [registry],
    });
  const deprecated = <K extends CoreCounterKey>(k: K) =>
    linkGauge(
      CORE_COUNTERS[k].old,
      `${DEPRECATED} ${CORE_COUNTERS[k].name}. ${CORE_COUNTERS[k].help}, this session only`,
      (s) => s.core?.[k],
    );

  const m = {
    registry,
    device,
    /** Where the link gauges are read from (the gateway's links). */
    setLinkSource(f: () => Iterable<LinkSample>): void {
      links = f;
    },
    /** Where qn_broker_queue_depth and qn_spool_bytes are read from (the bridge). */
    setQueueSource(f: () => { depth: number; spoolBytes: number }): void {
      queue = f;
    },
    linkUp: linkGauge(
      "qn_link_up",
      "1 when the device's session is up",
      (s) => (s.up ? 1 : 0),
      "; under (others): how many are",
    ),
    breaker: new Gauge({
      name: "qn_link_breaker_state",
      help: "The link's circuit breaker: 1 on its current state (closed: session up; half_open: handshake under way; open: no session, sends fail fast); under (others): how many links are in each",
      labelNames: ["device", "state"],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of links())
          for (const st of BREAKER_STATES) this.inc({ device: device(s.id), state: st }, s.breaker === st ? 1 : 0);
      },
    }),
    links: new Gauge({
      name: "qn_links",
      help: "Device links in each state (fleet aggregate, never per device)",
      labelNames: ["state"],
      registers: [registry],
      collect() {
        this.reset();
        for (const st of LINK_STATES) this.set({ state: st }, 0);
        for (const s of links()) this.inc({ state: s.state });
      },
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
    core: {
      framesIn: core("framesIn"),
      framesOut: core("framesOut"),
      crcErrors: core("crcErrors"),
      authFailures: core("authFailures"),
      retransmissions: core("retransmissions"),
    } satisfies Record<CoreCounterKey, Counter>,
    deprecatedCore: {
      framesIn: deprecated("framesIn"),
      framesOut: deprecated("framesOut"),
      crcErrors: deprecated("crcErrors"),
      authFailures: deprecated("authFailures"),
      retransmissions: deprecated("retransmissions"),
    } satisfies Record<CoreCounterKey, Gauge>,
    qosInFlight: linkGauge(
      "qn_qos_in_flight",
      "QoS 1 and 2 messages to the device not yet acknowledged (the core counts both levels together)",
      (s) => s.qosInFlight,
    ),
    journalBytes: linkGauge("qn_journal_bytes", "Size of the device's journal file", (s) => s.journalBytes),
    poolInUse: linkGauge(
      "qn_device_pool_in_use",
      "Pool blocks in use, as the device reports in IDENT",
      (s) => s.poolInUse,
    ),
    poolHighWater: linkGauge(
      "qn_device_pool_high_water",
      "Pool blocks high water, as the device reports in IDENT",
      (s) => s.poolHighWater,
    ),
    probes: new Counter({
      name: "qn_probes_total",
      help: "Probes of a connected device (PING and IDENT every 5 s), by result (ok, failed)",
      labelNames: ["device", "result"],
      registers: [registry],
    }),
    uplink: new Counter({
      name: "qn_uplink_messages_total",
      help: "Messages from devices handed to the bridge",
      labelNames: ["device", "qos"],
      registers: [registry],
      collect() {
        this.reset();
        for (const c of uplinkCells.values()) if (c.n) this.inc(c.labels, c.n);
      },
    }),
    /** The cell of qn_uplink_messages_total for `id` at `qos`: add to its n. */
    uplinkCell(id: string, qos: 0 | 1 | 2): { n: number } {
      const labels = { device: device(id), qos: String(qos) };
      const key = `${labels.device}\0${labels.qos}`;
      let c = uplinkCells.get(key);
      if (!c) uplinkCells.set(key, (c = { labels, n: 0 }));
      return c;
    },
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
      buckets: RTT_BUCKETS,
      registers: [registry],
    }),
    uplinkLatency: new Histogram({
      name: "qn_uplink_latency_seconds",
      help: "Device to broker: from a message's frame reaching the gateway to the broker's acknowledgement (QoS 0: written to the socket), by QoS",
      labelNames: ["qos"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    handshake: new Histogram({
      name: "qn_handshake_seconds",
      help: "Duration of the session handshakes with devices (as the core measured it), by whether the session was resumed",
      labelNames: ["resumed"],
      buckets: HANDSHAKE_BUCKETS,
      registers: [registry],
    }),
    journalFlush: new Histogram({
      name: "qn_journal_flush_seconds",
      help: "Time to write and fdatasync a device journal's batch of changes (the acknowledgements of the batch wait for it)",
      buckets: FLUSH_BUCKETS,
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "qn_broker_queue_depth",
      help: "Messages waiting for the broker (spooled and in flight)",
      registers: [registry],
      collect() {
        this.set(queue().depth);
      },
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
    spoolBytes: new Gauge({
      name: "qn_spool_bytes",
      help: "Size of the uplink spool file",
      registers: [registry],
      collect() {
        this.set(queue().spoolBytes);
      },
    }),
    fleetRefused: new Counter({
      name: "qn_fleet_refused_total",
      help: "Connections to the fleet listener refused before a link was made, by reason",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
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
