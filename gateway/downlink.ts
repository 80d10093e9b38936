// The downlink side of the bridge: the configured down topics are
// subscribed, and each command is routed to the device link that owns it.
// A QoS 1 or 2 command is written to the downlink queue (down-queue.ts) and
// mqtt.js is called back (PUBACK; for QoS 2 the incoming store's delete,
// then PUBCOMP) only once it is on disk; at the queue's bound a new command
// is refused (MQTT 5: reason code 0x97) before anything acknowledges it.
import type { MqttClient, IPublishPacket } from "mqtt";
import type { Logger } from "pino";
import type { Config } from "./config.ts";
import type { Metrics } from "./metrics.ts";
import type { IncomingStore } from "./incoming-store.ts";
import type { DownQueue } from "./down-queue.ts";
import { parseTraceparent, type TraceContext } from "../host/trace.ts";

export interface DownRoute {
  device: string;
  channel: number;
  qos: 0 | 1 | 2;
  prio: number;
}

/** A command for a device's link: `seq` is its downlink queue record (QoS 1 / 2). */
export type DownHandler = (
  r: DownRoute,
  payload: Buffer,
  topic: string,
  parent: TraceContext | null,
  seq?: number,
) => void;

export class Downlink {
  private routes = new Map<string, DownRoute>();
  private subscribed = new Set<string>();
  /** Commands refused at the bound (MQTT 5): their PUBACK / PUBREC carries
   *  QUOTA_EXCEEDED, and deliver() must not deliver them. */
  private refused = new WeakSet<IPublishPacket>();
  /** Messages that arrived before the first setRoutes(), not yet acknowledged. */
  private early: (() => void)[] | null = [];

  constructor(
    private readonly client: MqttClient,
    private readonly cfg: Config["mqtt"],
    private readonly incoming: IncomingStore,
    private readonly down: DownQueue,
    /** mqtt.queue_limit, as reloads set it. */
    private readonly limit: () => number,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly onDown: DownHandler,
  ) {}

  /** The broker kept no session for us: the PUBREL of a command we
   *  answered with PUBREC will never come, nor the command again. It is
   *  ours since that PUBREC: deliver it now, once (mqtt.js would drop it). */
  deliverUnreleased(): void {
    for (const pk of this.incoming.packets()) {
      this.log.warn(
        { topic: pk.topic, message_id: pk.messageId },
        "broker lost our session: delivering a QoS 2 command it will not release",
      );
      this.deliver(pk, () => this.incoming.release(pk));
    }
  }

  /** (Re)connected: every route's topic subscribed again. */
  resubscribe(): void {
    this.subscribed.clear();
    for (const t of this.routes.keys()) this.subscribe(t);
  }

  /** The device's downlink queue is at its bound (mqtt.queue_limit
   *  commands): refuse a new QoS 1 / 2 command. Not one the broker resends
   *  that we already hold (PUBREC'd: it will be delivered at its PUBREL). */
  refuse(packet: IPublishPacket): boolean {
    if (packet.qos === 0) return false;
    const r = this.routes.get(packet.topic);
    if (!r || this.down.count(r.device) < this.limit()) return false;
    if (packet.qos === 2 && this.incoming.packets().some((p) => p.messageId === packet.messageId)) return false;
    this.refused.add(packet);
    this.metrics.downlinkQueueFull.inc({ device: this.metrics.device(r.device) });
    this.log.warn(
      { device: r.device, topic: packet.topic, qos: packet.qos, queued: this.down.count(r.device) },
      "downlink queue full: command refused (reason code 0x97, quota exceeded)",
    );
    return true;
  }

  deliver(packet: IPublishPacket, done: () => void): void {
    if (this.early) {
      this.early.push(() => this.deliver(packet, done));
      return;
    }
    if (this.refused.has(packet)) {
      done();
      return;
    } // its PUBACK carries the refusal
    let cmd: ReturnType<Downlink["route"]> = null;
    try {
      cmd = this.route(packet);
    } catch (e) {
      this.log.error({ topic: packet.topic, err: (e as Error).message }, "downlink routing failed");
    }
    if (!cmd) {
      done();
      return;
    }
    const { r, payload, topic, parent, traceparent } = cmd;
    // QoS 0: nothing acknowledged, nothing kept (and no fsync in its way).
    if (packet.qos === 0) {
      this.emitDown(r, payload, topic, parent);
      done();
      return;
    }
    if (this.cfg.protocol_version !== 5 && this.down.count(r.device) >= this.limit()) {
      // MQTT 3.1.1 cannot refuse a message (and a QoS 2 one was PUBREC'd
      // already): over the bound it is kept all the same, never dropped.
      this.metrics.downlinkQueueFull.inc({ device: this.metrics.device(r.device) });
      this.log.warn(
        { device: r.device, topic, qos: packet.qos, queued: this.down.count(r.device) },
        "downlink queue over its bound: command kept (MQTT 3.1.1 cannot refuse it)",
      );
    }
    // QoS 1 / 2 (a QoS 2 command is acknowledged since its PUBREC: never
    // refused here): on disk before mqtt.js acknowledges or releases it.
    const e = this.down.append({
      device: r.device,
      channel: r.channel,
      qos: r.qos,
      prio: r.prio,
      topic,
      payload,
      traceparent,
    });
    this.down.syncAsync().then(
      () => {
        this.emitDown(r, payload, topic, parent, e.seq);
        done();
      },
      (err: Error) => {
        // Not acknowledged: drop the connection, the broker sends it again.
        this.log.error(
          { device: r.device, topic, err: err.message },
          "downlink queue: cannot save a command; not acknowledging it (the broker will send it again)",
        );
        this.down.done(e.seq);
        this.client.stream?.destroy();
      },
    );
  }

  private emitDown(r: DownRoute, payload: Buffer, topic: string, parent: TraceContext | null, seq?: number): void {
    try {
      this.onDown(r, payload, topic, parent, seq);
    } catch (e) {
      this.log.error({ topic, err: (e as Error).message }, "downlink routing failed");
    }
  }

  private route(
    packet: IPublishPacket,
  ): { r: DownRoute; payload: Buffer; topic: string; parent: TraceContext | null; traceparent?: string } | null {
    const topic = packet.topic,
      payload = packet.payload as Buffer;
    const r = this.routes.get(topic);
    if (!r) return null;
    // A user property may repeat (then mqtt.js gives an array): the
    // first valid traceparent is the parent, anything else starts a
    // new trace, with a warning.
    const raw = (packet.properties?.userProperties as Record<string, string | string[]> | undefined)?.traceparent;
    const all = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    let parent: TraceContext | null = null,
      traceparent: string | undefined;
    for (const v of all)
      if ((parent = parseTraceparent(v))) {
        traceparent = v;
        break;
      }
    if (all.length && !parent)
      this.log.warn(
        { topic, traceparent: String(all[0]).slice(0, 80) },
        "command with an invalid traceparent: starting a new trace",
      );
    return { r, payload, topic, parent, traceparent };
  }

  /** Replace the downlink routing table (topic -> device channel). */
  setRoutes(routes: Map<string, DownRoute>): void {
    for (const t of this.subscribed)
      if (!routes.has(t)) {
        this.client.unsubscribe(t);
        this.subscribed.delete(t);
      }
    this.routes = routes;
    if (this.client.connected) for (const t of routes.keys()) this.subscribe(t);
    const early = this.early;
    this.early = null;
    // First routes: what the downlink queue kept from before the restart goes
    // to the devices first, in order, ahead of anything the broker sends now.
    if (early)
      for (const e of this.down.pending.values()) {
        this.emitDown(
          { device: e.device, channel: e.channel, qos: e.qos, prio: e.prio },
          e.payload,
          e.topic,
          parseTraceparent(e.traceparent),
          e.seq,
        );
      }
    for (const f of early ?? []) f();
  }

  private subscribe(topic: string): void {
    if (this.subscribed.has(topic) && this.client.connected) return;
    const r = this.routes.get(topic)!;
    this.client.subscribe(topic, { qos: r.qos }, (err) => {
      if (err) this.log.warn({ topic, err: err.message }, "subscribe failed");
      else this.subscribed.add(topic);
    });
  }
}
