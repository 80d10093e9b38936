// The MQTT side of the gateway (mqtt.js keeps the connection; uplink
// PUBLISHes are written by mqtt-uplink.ts). Uplink: messages from devices wait
// in one bounded queue (QoS >= 1 also in the fsync'd spool) and go to the
// broker in order, at most `WINDOW` unacknowledged at a time; a message
// leaves the spool only when the broker acknowledged it (PUBACK / PUBCOMP).
// During a broker outage the queue grows up to mqtt.queue_limit; at the
// limit the gateway stops reading from devices (they keep their messages in
// their own windows and journals) instead of dropping any. Downlink
// (downlink.ts): commands are routed to the device links. A QoS 2 command
// is kept in an fsync'd file from before its PUBREC until its PUBREL
// (incoming-store.ts), so a gateway crash in between does not lose it, and
// a QoS 1 or 2 command is in the downlink queue (down-queue.ts) before it
// is acknowledged; it leaves the queue when the device's core has it in
// its journal.
import { connect, type MqttClient, type IClientOptions, type IPublishPacket } from "mqtt";
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import type { Writable } from "node:stream";
import type { Logger } from "pino";
import type { Config } from "./config.ts";
import type { Spool, SpoolEntry } from "./spool.ts";
import type { Metrics } from "./metrics.ts";
import { IncomingStore } from "./incoming-store.ts";
import { Downlink, type DownRoute } from "./downlink.ts";
import { DownQueue } from "./down-queue.ts";
import { MESSAGE_ID_PROPERTY } from "./message-id.ts";
import { MqttUplink, NOT_SENT, mqttIdProvider } from "./mqtt-uplink.ts";
import { parseTraceparent } from "../host/trace.ts";
import { startSpan, endError, logIds, traceparentOf, SpanKind, SPAN, ATTR, type Span } from "./tracing.ts";

/** Uplink messages unacknowledged at most (less if the broker's MQTT 5
 *  receive maximum says so; mosquitto's max_inflight_messages is 100 in
 *  our broker config). */
const WINDOW = 64;
/** The `qos` label of each level, made once: the uplink path labels
 *  every message with one. */
const QOS_LABEL = [{ qos: "0" }, { qos: "1" }, { qos: "2" }] as const;
/** How long the uplink waits after the broker refused a message. */
const REFUSED_RETRY_MS = 1000;
/** MQTT 5 reason code "Quota exceeded": a command refused at the bound. */
const QUOTA_EXCEEDED = 0x97;

export type { DownRoute };

/** A queued message and its spans (in memory only; the spool keeps the
 *  traceparent, so a replayed message still joins its trace); `t0`: when
 *  its frame reached the gateway (none for one replayed from the spool). */
type Entry = SpoolEntry & { span?: Span; pub?: Span; t0?: number };

/** The MQTT client id of a gateway whose config names none. */
export const defaultClientId = (m: { topic_prefix: string }): string =>
  `qn-gateway-${m.topic_prefix.replace(/[^A-Za-z0-9_-]/g, "_")}`;

export class Bridge extends EventEmitter {
  readonly client: MqttClient;
  private waiting: Entry[] = [];
  /** Entries published and not yet acknowledged. */
  private readonly uplink: MqttUplink<Entry>;
  private window = WINDOW;
  get inflight(): number {
    return this.uplink.inflight;
  }
  private qos0Seq = -1;
  private wasFull = false;
  /** QoS 2 commands between PUBREC and PUBREL, on disk (`<spool>.incoming`). */
  readonly incoming: IncomingStore;
  /** QoS 1 and 2 commands acknowledged to the broker and not yet in their
   *  device core's journal, on disk (`<spool>.down`). */
  readonly down: DownQueue;
  /** Commands from the broker to the devices. */
  private readonly downlink: Downlink;
  /** The broker socket corked until the end of this event-loop turn
   *  (batch() says why), and whether pump() runs then. */
  private corked: Writable | null = null;
  private pumpAtTurnEnd = false;
  /** Set while the queue waits after a refusal (acked() says why). */
  private refusedAt?: NodeJS.Timeout;
  limit: number;

  constructor(
    cfg: Config["mqtt"],
    private spool: Spool,
    private log: Logger,
    private metrics: Metrics,
  ) {
    super();
    this.limit = cfg.queue_limit;
    metrics.queueLimit.set(this.limit);
    metrics.setQueueSource(() => ({ depth: this.depth, spoolBytes: this.spool.bytes }));
    // What a previous run spooled and the broker never acknowledged.
    for (const e of spool.pending.values()) this.waiting.push(e);
    if (this.waiting.length)
      log.info({ replayed: this.waiting.length }, "spool: resending messages the broker had not acknowledged");
    // A failed write means no PUBREC went out: drop the connection so the
    // broker sends the PUBLISH again (mqtt.js would otherwise wait for ever).
    this.incoming = new IncomingStore(spool.path + ".incoming", log, () => this.client?.stream?.destroy());
    this.down = new DownQueue(spool.path + ".down", log);
    this.uplink = new MqttUplink<Entry>(cfg.protocol_version, (e, reason) => this.acked(e, reason));
    const opts: IClientOptions = {
      // A persistent session under a stable id: a QoS 2 message the broker
      // has received (PUBREC) but not yet released survives a broker restart
      // (with broker persistence) and a reconnect; mqtt.js resends PUBREL.
      clientId: cfg.client_id ?? defaultClientId(cfg),
      protocolVersion: cfg.protocol_version,
      reconnectPeriod: 500,
      connectTimeout: 3000,
      clean: false,
      properties: cfg.protocol_version === 5 ? { sessionExpiryInterval: 7 * 24 * 3600 } : undefined,
      resubscribe: true,
      // Ids 1..UPLINK_IDS are the uplink's (mqtt-uplink.ts).
      messageIdProvider: mqttIdProvider(),
      incomingStore: this.incoming,
      // mqtt.js calls its `debug` logger a dozen times per packet, each
      // call a check of the DEBUG namespaces: only when DEBUG is set.
      log: process.env.DEBUG ? undefined : () => {},
      // Called before anything is acknowledged (before PUBACK, before the
      // QoS 2 command is stored and PUBREC'd): at the bound a command is
      // refused here, so none is acknowledged and then dropped. MQTT 3.1.1
      // has no refusal (deliver() says what happens then).
      customHandleAcks:
        cfg.protocol_version === 5
          ? (_topic, _message, packet, cb) => cb(this.downlink.refuse(packet as IPublishPacket) ? QUOTA_EXCEEDED : 0)
          : undefined,
    };
    this.client = connect(cfg.url, opts);
    this.downlink = new Downlink(
      this.client,
      cfg,
      this.incoming,
      this.down,
      () => this.limit,
      log,
      metrics,
      (...a) => this.emit("down", ...a),
    );
    // Nagle off (mosquitto runs set_tcp_nodelay; mqtt.js leaves it on): with
    // it, small publishes wait for a delayed ACK, ~40 ms each time.
    const noDelay = () =>
      (this.client as unknown as { stream?: { setNoDelay?: (b: boolean) => void } }).stream?.setNoDelay?.(true);
    noDelay();
    this.client.on("connect", (connack) => {
      noDelay();
      metrics.brokerUp.set(1);
      this.window = Math.min(WINDOW, connack.properties?.receiveMaximum ?? WINDOW);
      log.info(
        { url: cfg.url, queued: this.depth, session_present: connack.sessionPresent, in_flight: this.inflight },
        "broker connected",
      );
      this.batch();
      if (connack.sessionPresent) this.uplink.resend();
      else if (this.inflight) {
        // The broker kept no session (restarted without its state): a QoS 2
        // message it had PUBREC'd may be gone. Publish everything
        // unacknowledged again, as new messages (at least once).
        const again = this.uplink.takeAll();
        log.warn({ republished: again.length }, "broker lost our session: republishing unacknowledged messages");
        for (const e of again)
          if (e.pub) {
            endError(e.pub, "the broker lost the session; published again");
            e.pub = undefined;
          }
        this.waiting.unshift(...again);
      }
      this.downlink.resubscribe();
      this.pump();
    });
    this.client.on("close", () => {
      if (this.client.connected) return;
      metrics.brokerUp.set(0);
    });
    this.client.on("offline", () => log.warn({ url: cfg.url, queued: this.depth }, "broker offline; queueing"));
    // One line per distinct error, not one per reconnect attempt.
    let lastErr = "";
    this.client.on("connect", () => {
      lastErr = "";
    });
    this.client.on("error", (e) => {
      if (e.message !== lastErr) log.warn({ err: e.message }, "broker error");
      lastErr = e.message;
    });
    // Routing happens in handleMessage, not on "message": mqtt.js acknowledges
    // (PUBACK; PUBCOMP and the store's del() for QoS 2) only after its
    // callback, so a message that comes before the routes are known (the
    // broker resends PUBRELs and queued messages right after CONNACK, while
    // the gateway is still starting its links) waits instead of being lost.
    this.client.handleMessage = (packet, done) => this.downlink.deliver(packet, done);
    this.client.on("packetreceive", (p) => {
      this.batch();
      if (this.uplink.handle(p)) return;
      if (p.cmd !== "connack" || p.sessionPresent || (p.reasonCode ?? p.returnCode ?? 0) !== 0) return;
      this.downlink.deliverUnreleased();
    });
  }

  get depth(): number {
    return this.waiting.length + this.inflight;
  }
  get full(): boolean {
    return this.depth >= this.limit;
  }
  get connected(): boolean {
    return this.client.connected;
  }

  /** Queue a message for the broker. QoS >= 1 is spooled (durable after the
   *  caller's spool.sync()); QoS 0 is dropped, counted, when the queue is
   *  full. `span` (the message's uplink span) ends when the broker has it;
   *  `msgId` (message-id.ts) goes to the broker with it, as a user property. */
  enqueue(
    device: string,
    topic: string,
    qos: 0 | 1 | 2,
    payload: Buffer,
    span?: Span,
    msgId?: string,
  ): SpoolEntry | null {
    let e: Entry;
    const traceparent = span ? traceparentOf(span) : undefined;
    if (qos === 0) {
      if (this.full) {
        this.metrics.qos0Dropped.inc();
        return null;
      }
      e = { seq: this.qos0Seq--, device, topic, qos, payload, traceparent, msgId };
    } else {
      e = this.spool.append({ device, topic, qos, payload, traceparent, msgId });
    }
    e.span = span;
    e.t0 = performance.now();
    this.waiting.push(e);
    this.updateFull();
    this.pump();
    return e;
  }

  private updateFull(): void {
    if (!this.wasFull && this.full) {
      this.wasFull = true;
      this.metrics.queueFull.inc();
      this.log.warn({ depth: this.depth }, "broker queue full: pausing device links");
      this.emit("full");
    } else if (this.wasFull && this.depth <= this.limit * 0.9) {
      this.wasFull = false;
      this.log.info({ depth: this.depth }, "broker queue has room: resuming device links");
      this.emit("room");
    }
  }

  /** True from reaching the limit until the queue is back under 90 %. */
  get paused(): boolean {
    return this.wasFull;
  }

  /** mqtt.js handles one incoming packet per process.nextTick and
   *  mqtt-packet uncorks the socket at the next tick, so every PUBREL
   *  answering a PUBREC went out in a system call of its own, and every
   *  device's batch of PUBLISHes in another. Corked from the first packet
   *  or publish of an event-loop turn until the turn ends (setImmediate),
   *  the turn's packets leave in one writev, in the same order. */
  private batch(): boolean {
    if (this.corked) return true;
    const s = this.client.stream as Writable | undefined;
    if (!s || s.destroyed) return false;
    this.corked = s;
    s.cork();
    setImmediate(() => {
      // The publishes of the acknowledgements of this turn go in the same write.
      if (this.pumpAtTurnEnd) {
        this.pumpAtTurnEnd = false;
        this.pump();
      }
      this.corked = null;
      if (s.destroyed || s !== this.client.stream) this.uplink.dropUnwritten();
      else this.uplink.write(s);
      s.uncork();
    });
    return true;
  }

  private pump(): void {
    if (this.client.connected && this.waiting.length) this.batch();
    if (this.refusedAt) return;
    while (this.client.connected && this.corked && this.inflight < this.window && this.waiting.length) {
      const e = this.waiting.shift()!;
      // One span per PUBLISH attempt, child of the uplink span (or, for a
      // message replayed from the spool, of the traceparent it was spooled
      // with); its context is what the MQTT consumer sees as its parent.
      const pub = startSpan(SPAN.PUBLISH, {
        kind: SpanKind.PRODUCER,
        parent: e.span,
        remote: e.span ? undefined : parseTraceparent(e.traceparent),
        attributes: {
          [ATTR.DEVICE]: e.device,
          [ATTR.TOPIC]: e.topic,
          [ATTR.QOS]: e.qos,
          [ATTR.SYSTEM]: "mqtt",
          [ATTR.SPOOL_SEQ]: e.seq,
        },
      });
      e.pub = pub;
      const tp = ["traceparent", traceparentOf(pub)] as const;
      const props = e.msgId ? [tp, [MESSAGE_ID_PROPERTY, e.msgId] as const] : [tp];
      this.uplink.publish(e, { topic: e.topic, qos: e.qos, payload: e.payload, props });
    }
  }

  /** The broker acknowledged `e` (reason undefined) or refused it. */
  private acked(e: Entry, reason?: number): void {
    const pub = e.pub;
    e.pub = undefined;
    if (reason !== undefined) {
      // Not acknowledged: back to the front, in order, for the next attempt.
      this.waiting.unshift(e);
      const why =
        reason === NOT_SENT
          ? "not sent: the broker connection closed"
          : `not acknowledged: reason code 0x${reason.toString(16)}`;
      if (pub) endError(pub, why);
      this.log.debug({ device: e.device, seq: e.seq, err: why, ...(pub && logIds(pub)) }, "publish failed; requeued");
      // A broker that refuses a message (not authorized, quota exceeded)
      // refuses it again at once: the queue waits a second, not a turn.
      if (reason !== NOT_SENT && !this.refusedAt) {
        this.refusedAt = setTimeout(() => {
          this.refusedAt = undefined;
          this.pump();
        }, REFUSED_RETRY_MS);
        this.log.warn(
          { device: e.device, topic: e.topic, reason_code: reason, retry_ms: REFUSED_RETRY_MS },
          "broker refused a publish; retrying",
        );
      }
    } else {
      if (e.qos > 0) this.spool.done(e.seq);
      const label = QOS_LABEL[e.qos];
      this.metrics.published.inc(label);
      if (e.t0 !== undefined) this.metrics.uplinkLatency.observe(label, (performance.now() - e.t0) / 1e3);
      pub?.end();
      e.span?.end();
      // The line's fields only when it is written.
      if (pub && this.log.isLevelEnabled("debug"))
        this.log.debug({ device: e.device, seq: e.seq, topic: e.topic, ...logIds(pub) }, "published");
    }
    this.updateFull();
    // Not from inside the acknowledgement's handling: at the end of the
    // turn (the socket is corked until then: see batch()).
    this.pumpAtTurnEnd = true;
    if (!this.batch()) setImmediate(() => this.pump());
  }

  /** Replace the downlink routing table (topic -> device channel). */
  setRoutes(routes: Map<string, DownRoute>): void {
    this.downlink.setRoutes(routes);
  }

  setLimit(n: number): void {
    this.limit = n;
    this.metrics.queueLimit.set(n);
    this.updateFull();
  }

  /** Waits (up to `drainMs`) for the broker to acknowledge what is in
   *  flight; what it has not is replayed from the spool at the next start. */
  async close(drainMs = 2000): Promise<void> {
    clearTimeout(this.refusedAt);
    const until = performance.now() + drainMs;
    while (this.client.connected && this.inflight && performance.now() < until)
      await new Promise((r) => setTimeout(r, 10));
    await new Promise<void>((r) => this.client.end(false, {}, () => r()));
    this.down.close();
  }
}
