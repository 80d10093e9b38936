// One device behind the gateway: its transport (a serial port, or a TCP /
// TLS listener the device connects to), the host end of its session (a Peer
// with its own core and its own fsync'd journal file), and the routing of
// its channels to and from MQTT. Nothing here awaits on behalf of another
// device: each link runs on its own timers and callbacks.
//
// Durability of uplink messages: frames arrive in Peer.receive(), which
// feeds the core (the core queues the PUBACK / PUBREC), hands the frames to
// onFrame (where they are appended to the spool), and only then flushes the
// core's output (Peer.flush), which holds the bytes until the spool
// (outputBarrier) and the journal are fsync'd; GateTransport.write() only
// passes them on. So no acknowledgement reaches the device before the
// message is on disk.
//
// Downlink: a QoS 1 / 2 command comes with its record in the bridge's
// downlink queue file (`seq`); the record is marked done only once the core
// has taken the command and its journal (holding it, QoS 1 / 2) is on disk.
import type { Server, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Logger } from "pino";
import { Peer, type SessionOptions } from "../host/peer.ts";
import type { Storage } from "../host/storage.ts";
import { openJournal, JOURNAL_BYTES } from "./journal-file.ts";
import type { JournalPack } from "./journal-pack.ts";
import type { QnCore } from "../host/core.ts";
import { QnError, Status } from "../host/status.ts";
import { FrameType, Counter, Flag, TRACE_BYTES, flagsQos, type Frame } from "../host/frame.ts";
import { Codec, ConfigKey, FieldKind, QosStat, SessionState } from "../host/abi.ts";
import { zigzagDecode } from "../host/zigzag.ts";
import { splitTraced, encodeTraceBytes, type TraceContext } from "../host/trace.ts";
import { SerialTransport, type SerialBinding } from "../host/transport/serial.ts";
import { TcpTransport } from "../host/transport/tcp.ts";
import type { Transport } from "../host/transport/transport.ts";
import { GateTransport } from "./gate-transport.ts";
import { Candidate } from "./candidate.ts";
import { readKeyFile } from "../host/key-file.ts";
import { deviceServer } from "./device-listener.ts";
import { deviceParams, type Config, type DeviceConfig } from "./config.ts";
import type { Bridge } from "./bridge.ts";
import type { Spool } from "./spool.ts";
import type { LINK_STATES, Metrics, LinkSample, BreakerState } from "./metrics.ts";
import { LinkCounters } from "./link-counters.ts";
import { startSpan, endError, logIds, contextOf, SpanKind, SPAN, ATTR, type Span } from "./tracing.ts";
import { EventMerger, decodeEvents, type DeviceEvent } from "./event-log.ts";
import { OwnerLock } from "../host/owner-lock.ts";
import { messageId } from "./message-id.ts";

/** Connections to a device's listener that may be proving the key at once;
 *  the oldest gives way to a newer one. A device answers a HELLO within a
 *  round trip, so a flood has to open this many connections inside that
 *  time to keep a reconnecting device out. */
export const MAX_CANDIDATES = 3;
/** Time a new connection has to complete its handshake (the link's own
 *  handshake_ms when set). */
export const HANDSHAKE_TIMEOUT_MS = 5000;

/** What the link needs from the gateway. */
export interface LinkEnv {
  bridge: Bridge;
  spool: Spool;
  log: Logger;
  metrics: Metrics;
  prefix: string;
  tls?: Config["tls"];
  /** Serial ports through this binding instead of the OS's (tests). */
  serialBinding?: SerialBinding;
  /** Where fleet devices' journals are (fleet.journal_pack), if not in
   *  files of their own. */
  pack?: JournalPack;
}

/** The names a TLS client's certificate gives: subject CN and DNS SANs. */
function certNames(s: TLSSocket): string[] {
  const c = s.getPeerCertificate?.();
  if (!c || !Object.keys(c).length) return [];
  const names: string[] = [];
  const cn = c.subject?.CN;
  if (cn) names.push(...(Array.isArray(cn) ? cn : [cn]));
  for (const san of (c.subjectaltname ?? "").split(/,\s*/)) if (san.startsWith("DNS:")) names.push(san.slice(4));
  return names;
}

function sessionOf(d: LinkConfig, key: Uint8Array): SessionOptions {
  return {
    key,
    auth: d.auth,
    heartbeatMs: d.heartbeat_ms,
    heartbeatMisses: d.heartbeat_misses,
    backoffBaseMs: d.backoff_base_ms,
    backoffCapMs: d.backoff_cap_ms,
    handshakeMs: d.handshake_ms,
    retransmitMs: d.retransmit_ms,
  };
}

/** A link's settings: a device section of the config, or a registry
 *  device under its profile, reached through the fleet listener. */
export type LinkConfig = Omit<DeviceConfig, "transport"> & {
  transport: DeviceConfig["transport"] | { fleet: { listen: string } };
};

export type LinkState = (typeof LINK_STATES)[number];

/** A command waiting for the device's core; its span ends when the core
 *  takes it (or it is dropped). `seq`: its record in the downlink queue
 *  file (commands acknowledged to the broker; none for QoS 0). */
interface Down {
  channel: number;
  qos: 0 | 1 | 2;
  prio: number;
  payload: Buffer;
  span: Span;
  seq?: number;
}

export class DeviceLink {
  state: LinkState = "starting";
  peer?: Peer;
  /** The core of the last closed Peer, for the next connection. */
  private spare?: QnCore;
  private gate?: GateTransport;
  private server?: Server;
  /** Open only while this process owns the journal (journalLock). */
  private storage?: Storage & Required<Pick<Storage, "syncAsync" | "close">>;
  private journalLock?: OwnerLock;
  /** Why the journal could not be taken (another process owns it, or the
   *  path is not a journal); start() fails with it. */
  private readonly lockError?: Error;
  /** The MQTT topic of each channel mapped up. */
  private upTopics = new Map<number, string>();
  /** This link's cells of qn_uplink_messages_total, by QoS. */
  private readonly uplinkCells: { n: number }[];
  private downQueue: Down[] = [];
  private timers: NodeJS.Timeout[] = [];
  private drainTimer?: NodeJS.Timeout;
  /** New connections still proving the device's key, oldest first. */
  private readonly candidates = new Set<Candidate>();
  private stopped = false;
  private wasUp = false;
  private log: Logger;
  /** Connections / handshakes that failed, and the last reason. */
  failures = 0;
  lastError?: string;
  since = Date.now();
  uplink = 0;
  downlink = 0;
  sessionId = 0;
  ident?: { poolInUse: number; poolHighWater: number; uptimeUs: number };
  /** The handshake of the current session (selftest reports it). */
  handshake?: { handshakeUs: number; resumed: boolean };
  /** The device's event ring, merged into our log. */
  readonly events: EventMerger;
  private lastEventPoll = 0;
  private readonly counters: LinkCounters;
  /** The last probe failed (its recovery is logged once). */
  private probeFailing = false;

  constructor(
    public cfg: LinkConfig,
    public key: Uint8Array,
    private env: LinkEnv,
  ) {
    this.log = env.log.child({ device: cfg.id });
    this.counters = new LinkCounters(env.metrics, cfg.id);
    this.uplinkCells = ([0, 1, 2] as const).map((q) => env.metrics.uplinkCell(cfg.id, q));
    // Group commit: Peer.flush fsyncs once per batch, before any
    // acknowledgement goes back to the device.
    // One process per journal (and its .events beside it): not even
    // opened when another one owns it, since opening may format it.
    // A path that is not a journal (someone else's file) is refused and
    // left as it is; start() then fails with the reason.
    const flushed = (s: number) => env.metrics.journalFlush.observe(s);
    try {
      const fleet = "fleet" in cfg.transport;
      // A fleet's journals in its pack (journal-pack.ts: the pack is this
      // process's), a journal file of its own taken over if it had one.
      if (fleet && env.pack) this.storage = env.pack.slot(cfg.id, cfg.journal, flushed);
      else {
        this.journalLock = OwnerLock.take(cfg.journal, "journal");
        // A fleet's thousands of mostly idle journals hold no descriptor
        // and no copy of the file in RAM each.
        this.storage = openJournal(cfg.journal, flushed, { closeWhenIdle: fleet, mirror: !fleet });
      }
    } catch (e) {
      this.journalLock?.release();
      this.journalLock = undefined;
      this.lockError = e as Error;
    }
    this.setChannels(cfg);
    this.events = new EventMerger(
      `${cfg.journal}.events`,
      this.log,
      () => this.fetchEvents(),
      (e) => env.metrics.deviceEvents.inc({ device: env.metrics.device(this.id), event: e.event }),
    );
  }

  static readKey(d: DeviceConfig): Uint8Array {
    return readKeyFile(d.key_file);
  }

  get id(): string {
    return this.cfg.id;
  }

  /** This link's `device` label (metrics.ts: fleet mode folds it). */
  private get dev(): { device: string } {
    return { device: this.env.metrics.device(this.cfg.id) };
  }

  /** Channel maps change without touching the link. */
  setChannels(d: LinkConfig): void {
    this.upTopics = new Map(
      d.channels.filter((c) => c.direction === "up").map((c) => [c.channel, this.topic(c.topic)]),
    );
  }

  topic(t: string): string {
    return `${this.env.prefix}/${this.cfg.id}/${t}`;
  }

  async start(): Promise<void> {
    if (this.lockError) throw this.lockError;
    const t = this.cfg.transport;
    if ("fleet" in t) {
      // Connections come proved from the fleet listener (adopt); liveness
      // is swept by the gateway's one timer for all fleet links (sweep).
      this.state = "waiting";
      return;
    }
    // Liveness, gauges and the device's own report, on this link's timers.
    this.timers.push(setInterval(() => this.watch(), 100));
    this.timers.push(
      setInterval(() => {
        void this.probe();
      }, 5000),
    );
    if ("tcp" in t) await this.listen(t.tcp.listen, t.tcp.tls, t.tcp.peer_name);
    else void this.serialLoop(t.serial.path, t.serial.baud);
  }

  private listen(address: string, useTls: boolean, peerName?: string): Promise<void> {
    const i = address.lastIndexOf(":");
    const host = address.slice(0, i).replace(/^\[|\]$/g, ""),
      port = Number(address.slice(i + 1));
    const onSocket = (s: Socket) => {
      // A certificate the CA signed for another device does not even get
      // to the handshake.
      if (useTls && peerName !== undefined) {
        const names = certNames(s as TLSSocket);
        if (!names.includes(peerName)) {
          this.failures++;
          this.lastError = `TLS: client certificate names ${names.length ? names.join(", ") : "nothing"}, not "${peerName}"`;
          this.log.warn({ remote: `${s.remoteAddress}:${s.remotePort}`, err: this.lastError }, "TLS client refused");
          s.destroy();
          return;
        }
      }
      this.admit(new TcpTransport(s, `tcp:${s.remoteAddress}:${s.remotePort}`));
    };
    const tls = this.env.tls;
    const server = deviceServer(useTls ? tls : undefined, onSocket);
    server.on("tlsClientError", (e: Error) => {
      this.failures++;
      this.lastError = `TLS: ${e.message}`;
      this.log.warn({ err: e.message }, "TLS handshake refused");
    });
    this.server = server;
    this.state = "waiting";
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        this.log.info({ listen: address, tls: useTls }, "waiting for the device");
        resolve();
      });
    });
  }

  private async serialLoop(path: string, baud: number): Promise<void> {
    let said = "";
    while (!this.stopped) {
      const t = new SerialTransport({ path, baudRate: baud, binding: this.env.serialBinding });
      try {
        await t.open();
      } catch (e) {
        this.failures++;
        this.lastError = (e as Error).message;
        // One line per distinct reason, not one every 2 s.
        if (this.lastError !== said)
          this.log.warn({ err: this.lastError }, "serial port not available; retrying every 2 s");
        said = this.lastError;
        await new Promise((r) => setTimeout(r, 2000));
        continue;
      }
      if (said) this.log.info({ path }, "serial port open");
      said = "";
      const closed = new Promise<void>((r) => t.onClose(() => r()));
      this.attach(t);
      await closed;
      if (!this.stopped) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /** A new connection to the listener: it replaces the link only once it
   *  has proved the device's key (candidate.ts); until then the current
   *  connection, if any, stays. */
  private admit(t: Transport): void {
    if (this.stopped) {
      void t.close();
      return;
    }
    if (this.candidates.size >= MAX_CANDIDATES) [...this.candidates][0].abandon("a newer connection needs its place");
    const journal = new Uint8Array(JOURNAL_BYTES);
    this.storage!.read(0, journal);
    const c = new Candidate(t, {
      session: sessionOf(this.cfg, this.key),
      journal,
      timeoutMs: this.cfg.handshake_ms ?? HANDSHAKE_TIMEOUT_MS,
    });
    this.candidates.add(c);
    c.authenticated.then(
      (conn) => {
        this.candidates.delete(c);
        if (this.stopped) {
          void conn.close();
          return;
        }
        if (this.peer)
          this.log.info(
            { remote: conn.name },
            "the device proved its key on a new connection: it replaces the previous one",
          );
        this.attach(conn);
      },
      (e: Error) => {
        this.candidates.delete(c);
        this.failures++;
        this.lastError = e.message;
        this.log.warn(
          { remote: t.name, err: e.message },
          "connection refused before the handshake completed; the link stays as it was",
        );
      },
    );
  }

  /** A connection the fleet listener proved to be this device's. */
  adopt(t: Transport): void {
    if (this.peer)
      this.log.info({ remote: t.name }, "the device proved its key on a new connection: it replaces the previous one");
    this.attach(t);
  }

  /** The up / down edges of a fleet link, from the gateway's one timer. */
  sweep(): void {
    const up = !!this.peer?.up;
    if (up === this.wasUp) return;
    if (up) {
      this.wasUp = true;
      this.state = "up";
      this.since = Date.now();
      this.env.metrics.linkUps.inc(this.dev);
      this.drain();
    } else {
      this.setDown();
      if (this.peer) this.state = "down";
    }
  }

  /** The device's connection (a serial port the link opened, or one that
   *  proved the key): a fresh Peer (its core replays the journal from the
   *  file), replacing any previous one. */
  private attach(t: Transport): void {
    if (this.stopped) {
      void t.close();
      return;
    }
    const old = this.peer;
    if (old) {
      void old.close();
      this.spare = old.core;
    }
    const gate = new GateTransport(t);
    if (this.env.bridge.paused) gate.pause();
    let peer: Peer;
    // A core started again counts from 0: what it counted so far is taken
    // into the totals first.
    if (this.spare) {
      this.counters.read(this.spare);
      this.counters.restart();
    }
    try {
      // The closed Peer's core starts again for this connection.
      peer = new Peer(gate, {
        session: sessionOf(this.cfg, this.key),
        storage: this.storage!,
        reuse: this.spare,
        // A fleet's links are many and mostly idle: the byte-wise CRC
        // spares each one the 15 KiB of slicing tables.
        wideCrc: !("fleet" in this.cfg.transport),
      });
    } catch (e) {
      this.lastError = (e as Error).message;
      this.log.error({ err: this.lastError }, "cannot start the session");
      void t.close();
      return;
    }
    gate.inboxFrames = peer.core.inboxCapacity();
    this.peer = peer;
    if (gate.paused) this.holdRx(true);
    this.gate = gate;
    peer.onFrame((f) => this.onFrame(f));
    // The core marks a QoS 2 message delivered (journal) only after the
    // batch it came in is on disk in the spool: no crash window between.
    peer.commitWhen = () => this.env.spool.syncAsync();
    // No acknowledgement leaves before the spool holding its message is on
    // disk (target taken when the bytes are pulled).
    peer.outputBarrier = () => this.env.spool.syncAsync();
    t.onClose((err) => {
      if (this.peer !== peer) return;
      this.log.info({ err: err?.message }, "connection closed");
      void peer.close();
      this.spare = peer.core;
      this.peer = undefined;
      this.gate = undefined;
      this.setDown();
      if (!this.stopped) this.state = "waiting";
    });
    this.state = "handshake";
    peer.connect(5000).then(
      (r) => {
        if (this.peer !== peer) return;
        this.sessionId = peer.core.sessionWireId();
        this.handshake = { handshakeUs: r.handshakeUs, resumed: r.resumed };
        this.env.metrics.handshake.observe({ resumed: String(r.resumed) }, r.handshakeUs / 1e6);
        this.log.info({ session: this.sessionId, handshake_us: r.handshakeUs, resumed: r.resumed }, "session up");
        if ("fleet" in this.cfg.transport) this.sweep();
        else this.watch();
        // What the device recorded while we were apart (its link down, a
        // reset, a trap) goes into our log first.
        this.pollEvents();
        if (deviceParams(this.cfg).size) void this.pushConfig().catch(() => {});
        void this.probe();
      },
      (e) => {
        if (this.peer !== peer) return;
        this.failures++;
        this.lastError = (e as Error).message;
        this.log.warn({ err: this.lastError }, "handshake failed; closing the connection");
        void peer.close();
      },
    );
  }

  private setDown(): void {
    if (this.wasUp) {
      this.wasUp = false;
      this.env.metrics.linkDowns.inc(this.dev);
      this.since = Date.now();
      this.log.warn({ session: this.sessionId }, "link down");
    }
  }

  /** 10 Hz: notice up/down edges, keep gauges current, move downlink. */
  private watch(): void {
    const p = this.peer;
    const up = !!p && p.up;
    if (up && !this.wasUp) {
      this.wasUp = true;
      this.state = "up";
      this.since = Date.now();
      this.env.metrics.linkUps.inc(this.dev);
      this.drain();
    } else if (!up && this.wasUp) {
      this.setDown();
      if (p) this.state = "down";
    }
    const every = this.cfg.event_poll_ms;
    if (up && every > 0 && Date.now() - this.lastEventPoll >= every) this.pollEvents();
    if (p) this.counters.read(p.core);
  }

  /** The link's gauges, read at scrape time (metrics.ts). */
  metricsSample(): LinkSample {
    const p = this.peer;
    if (p) this.counters.read(p.core);
    return {
      id: this.id,
      state: this.state,
      up: !!p?.up,
      breaker: this.breaker(),
      journalBytes: this.journalBytes(),
      qosInFlight: p ? p.core.qosStat(QosStat.IN_FLIGHT) : 0,
      poolInUse: this.ident?.poolInUse,
      poolHighWater: this.ident?.poolHighWater,
      core: this.counters.last,
    };
  }

  /** The session layer is the link's circuit breaker: while it has no
   *  session every send fails fast (docs/PROTOCOL.md section 8). */
  private breaker(): BreakerState {
    const p = this.peer;
    if (!p) return "open";
    const st = p.core.sessionState();
    if (st === SessionState.UP) return "closed";
    return st === SessionState.DOWN ? "open" : "half_open";
  }

  private journalBytes(): number {
    return this.storage?.size ?? 0;
  }

  /** Round-trip time and the device's pool usage (IDENT fields 7, 8, 9). */
  private async probe(): Promise<void> {
    const p = this.peer;
    if (!p?.up) return;
    try {
      const t0 = process.hrtime.bigint();
      await p.request(FrameType.PING, { payload: new Uint8Array(8), timeoutMs: 2000 });
      this.env.metrics.rtt.observe(this.dev, Number(process.hrtime.bigint() - t0) / 1e9);
      const r = await p.request(FrameType.IDENT_REQ, { codec: Codec.PB, timeoutMs: 2000 });
      const f = new Map(p.core.decode(Codec.PB, r.payload).map((x) => [x.tag, x.value]));
      this.ident = {
        poolInUse: Number(f.get(7) ?? 0n),
        poolHighWater: Number(f.get(8) ?? 0n),
        uptimeUs: Number(f.get(9) ?? 0n),
      };
      this.env.metrics.probes.inc({ ...this.dev, result: "ok" });
      if (this.probeFailing)
        this.log.info({ session: this.sessionId, event: "probe.recovered" }, "probe answered again");
      this.probeFailing = false;
    } catch (e) {
      this.env.metrics.probes.inc({ ...this.dev, result: "failed" });
      // One line when probes start failing, not one every 5 s.
      if (!this.probeFailing)
        this.log.warn({ session: this.sessionId, err: (e as Error).message, event: "probe.failed" }, "probe failed");
      this.probeFailing = true;
    }
  }

  private onFrame(f: Frame): void {
    if (f.type !== FrameType.DATA) return;
    const qos = flagsQos(f.flags) as 0 | 1 | 2;
    // A TRACE frame starts with the device's trace context: the uplink span
    // becomes its child, and MQTT gets the payload without it. The core
    // refuses TRACE frames too short for a context; a context that is not
    // valid (zero ids, version ff) is still stripped, and a new trace starts.
    let payload = f.payload,
      parent: TraceContext | null = null;
    if (f.flags & Flag.TRACE) {
      const t = splitTraced(f.payload);
      payload = t.body;
      parent = t.context;
      if (!parent) {
        this.env.metrics.traceInvalid.inc(this.dev);
        this.log.warn(
          {
            channel: f.channel,
            packet: f.packet,
            context: Buffer.from(f.payload.subarray(0, TRACE_BYTES)).toString("hex"),
          },
          "invalid trace context in a frame: starting a new trace",
        );
      }
    }
    const topic = this.upTopics.get(f.channel);
    const span = startSpan(SPAN.UPLINK, {
      kind: SpanKind.CONSUMER,
      remote: parent,
      attributes: {
        [ATTR.DEVICE]: this.id,
        [ATTR.SESSION]: this.sessionId,
        [ATTR.CHANNEL]: f.channel,
        [ATTR.PACKET]: f.packet,
        [ATTR.QOS]: qos,
        ...(topic ? { [ATTR.TOPIC]: topic } : {}),
      },
    });
    // A log line's fields, built only for a line that is written.
    const ids = () => ({ session: this.sessionId, packet: f.packet, channel: f.channel, qos, ...logIds(span) });
    if (!topic) {
      this.env.metrics.unmapped.inc(this.dev);
      this.log.warn(ids(), "message on an unmapped channel dropped");
      endError(span, "no uplink mapping for the channel");
      return;
    }
    // QoS carried over as sent by the device (QN QoS 2 -> MQTT QoS 2); the
    // bridge ends the span when the broker acknowledges the message.
    // Its stable id: the same from every gateway for every resend (message-id.ts).
    const epoch = this.peer?.core.qosStat(QosStat.PEER_EPOCH) ?? 0;
    const id = qos === 0 ? undefined : messageId(this.id, epoch, qos, f.packet);
    const e = this.env.bridge.enqueue(this.id, topic, qos, Buffer.from(payload), span, id);
    if (!e) {
      this.log.warn(ids(), "broker queue full: QoS 0 message dropped");
      endError(span, "broker queue full: QoS 0 message dropped");
      return;
    }
    this.uplink++;
    this.uplinkCells[qos].n++;
    if (this.log.isLevelEnabled("debug")) this.log.debug({ ...ids(), spool_seq: e.seq }, "uplink");
  }

  /** A message from MQTT for this device: queued, then handed to the core
   *  in order as its window allows (QoS 2: journalled by the core). Its
   *  span is a child of the command's MQTT traceparent, if it had one. */
  sendDown(
    channel: number,
    qos: 0 | 1 | 2,
    prio: number,
    payload: Buffer,
    topic: string,
    parent: TraceContext | null = null,
    seq?: number,
  ): void {
    const span = startSpan(SPAN.DOWNLINK, {
      kind: SpanKind.CONSUMER,
      remote: parent,
      attributes: {
        [ATTR.DEVICE]: this.id,
        [ATTR.CHANNEL]: channel,
        [ATTR.QOS]: qos,
        [ATTR.TOPIC]: topic,
        [ATTR.SYSTEM]: "mqtt",
      },
    });
    // The bound for kept commands is applied by the bridge before it
    // acknowledges them (they are never dropped here); QoS 0 ones are.
    if (seq === undefined && this.downQueue.length >= this.env.bridge.limit) {
      this.env.metrics.downlinkQueueFull.inc(this.dev);
      this.log.warn({ channel, qos, ...logIds(span) }, "downlink queue full: message dropped");
      endError(span, "downlink queue full");
      return;
    }
    this.downQueue.push({ channel, qos, prio, payload, span, seq });
    this.drain();
  }

  /** The context a command carries to the device (its downlink span, so
   *  the device's work is a child of it); none when the device is set not
   *  to get one or the payload leaves no room for it. */
  private traceBytes(m: Down, core: QnCore): Uint8Array | undefined {
    if (this.cfg.trace_context === false) return undefined;
    if (m.payload.length + TRACE_BYTES > core.maxPayload) return undefined;
    return encodeTraceBytes(contextOf(m.span));
  }

  private drain(): void {
    if (this.drainTimer) return;
    while (this.downQueue.length) {
      const p = this.peer;
      if (!p?.up) return; // resumed by watch() when the link comes up
      const m = this.downQueue[0];
      try {
        const trace = this.traceBytes(m, p.core);
        const packet = p.publish(m.channel, m.qos, m.payload, m.prio, trace);
        this.downQueue.shift();
        this.taken(m);
        this.downlink++;
        this.env.metrics.downlink.inc({ ...this.dev, qos: String(m.qos) });
        m.span.setAttributes({ [ATTR.SESSION]: this.sessionId, [ATTR.PACKET]: packet, "qn.frame.traced": !!trace });
        m.span.end();
        this.log.debug(
          { session: this.sessionId, packet, channel: m.channel, qos: m.qos, ...logIds(m.span) },
          "downlink",
        );
      } catch (e) {
        // A command the core can never take (too long for a frame) is
        // dropped with the reason, or it would hold up every later one.
        const st = e instanceof QnError ? e.status : 0;
        if (st === Status.ERR_OVERSIZE || st === Status.ERR_ARG) {
          this.downQueue.shift();
          if (m.seq !== undefined) this.env.bridge.down.done(m.seq); // never sendable: not kept either
          this.env.metrics.downlinkRefused.inc(this.dev);
          this.log.warn(
            { channel: m.channel, qos: m.qos, bytes: m.payload.length, err: (e as Error).message, ...logIds(m.span) },
            "command refused by the device link: dropped",
          );
          endError(m.span, (e as Error).message);
          continue;
        }
        // Window full or link down: try again shortly, keep the order.
        this.drainTimer = setTimeout(() => {
          this.drainTimer = undefined;
          this.drain();
        }, 10);
        return;
      }
    }
  }

  /** The core accepted a kept command (QoS 1 / 2: in its journal, written
   *  but maybe not yet on disk): its record is done once the journal is
   *  durable, so a crash in between sends it again instead of losing it. */
  private taken(m: Down): void {
    const seq = m.seq;
    if (seq === undefined) return;
    const down = this.env.bridge.down;
    down.take(seq);
    this.storage!.syncAsync().then(
      () => down.done(seq),
      (e: Error) => {
        this.log.error(
          { err: e.message, channel: m.channel },
          "journal flush failed: the command stays queued on disk (sent again after a restart)",
        );
      },
    );
  }

  get downQueued(): number {
    return this.downQueue.length;
  }

  // Backpressure: the link stops reading, and its core must not take that
  // silence for a dead device (the device's answers wait unread).
  pause(): void {
    this.gate?.pause();
    this.holdRx(true);
  }
  resume(): void {
    this.holdRx(false);
    this.gate?.resume();
  }
  private holdRx(held: boolean): void {
    try {
      this.peer?.holdRx(held);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "cannot tell the core its link is paused");
    }
  }

  /** Push the device part of the config (keys 2..9) as one T_CONFIG;
   *  `parent` is the reload it belongs to, if any. */
  async pushConfig(parent?: Span): Promise<{ status: number; refusedKey: number; generation: number }> {
    const span = startSpan(SPAN.CONFIG_PUSH, {
      kind: SpanKind.CLIENT,
      parent,
      attributes: { [ATTR.DEVICE]: this.id, [ATTR.SESSION]: this.sessionId },
    });
    const ids = logIds(span);
    const p = this.peer;
    if (!p?.up) {
      endError(span, "not connected");
      throw new Error(`${this.id}: not connected`);
    }
    const params = deviceParams(this.cfg);
    span.setAttribute("qn.config.keys", [...params.keys()]);
    const payload = p.core.encode(
      Codec.PB,
      [...params].map(([k, v]) => ({ tag: k + 1, kind: FieldKind.UINT, value: BigInt(v) })),
    );
    try {
      const r = await p.request(FrameType.CONFIG, { codec: Codec.PB, payload, timeoutMs: 3000 });
      const f = new Map(p.core.decode(Codec.PB, r.payload).map((x) => [x.tag, x.value]));
      const out = {
        status: Number(zigzagDecode(f.get(1) ?? 0n)),
        refusedKey: Number(f.get(2) ?? 0n) - 1,
        generation: Number(f.get(3) ?? 0n),
      };
      // Our end follows the same timings (role, auth and key stay).
      if (out.status === 0) for (const [k, v] of params) if (k <= ConfigKey.RETX_MS) p.core.trySetConfig(k, v);
      this.env.metrics.configPush.inc({ ...this.dev, result: out.status === 0 ? "applied" : "refused" });
      span.setAttributes({
        [ATTR.PACKET]: r.packet,
        "qn.config.status": out.status,
        "qn.config.generation": out.generation,
      });
      if (out.status === 0) {
        this.log.info(
          { session: this.sessionId, packet: r.packet, generation: out.generation, keys: [...params.keys()], ...ids },
          "device config applied",
        );
        span.end();
      } else {
        this.log.warn(
          { session: this.sessionId, packet: r.packet, status: out.status, refused_key: out.refusedKey, ...ids },
          "device refused the config; it keeps its old one",
        );
        endError(span, `refused with status ${out.status} (key ${out.refusedKey})`);
      }
      this.pollEvents(); // the device has just logged "config applied"
      return out;
    } catch (e) {
      this.env.metrics.configPush.inc({ ...this.dev, result: "error" });
      this.log.warn({ session: this.sessionId, err: (e as Error).message, ...ids }, "config push failed");
      endError(span, (e as Error).message);
      throw e;
    }
  }

  /** The device's event log (T_LOG_REQ), oldest first; what is new in it
   *  is written to our log on the way. */
  eventLog(): Promise<DeviceEvent[]> {
    return this.events.poll();
  }

  /** Merge the device's event log in the background. */
  private pollEvents(): void {
    this.lastEventPoll = Date.now();
    void this.events.poll().catch(() => {});
  }

  private async fetchEvents(): Promise<DeviceEvent[]> {
    const p = this.peer;
    if (!p?.up) throw new Error(`${this.id}: not connected`);
    const r = await p.request(FrameType.LOG_REQ, { codec: Codec.PB, timeoutMs: 3000 });
    return decodeEvents(p.core, r.payload);
  }

  /** Cut the device off now (revocation, removal, transport change). */
  async stop(reason: string): Promise<void> {
    this.stopped = true;
    this.state = "stopped";
    this.log.info({ reason }, "link stopped");
    for (const t of this.timers) clearInterval(t);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    for (const c of this.candidates) c.abandon("the link is stopping");
    // QoS 0 commands die with the link; kept ones stay in the downlink queue
    // file (the gateway hands them to a restarted link, or a later run).
    for (const m of this.downQueue.splice(0)) endError(m.span, `link stopped: ${reason}`);
    const p = this.peer;
    this.peer = undefined;
    this.setDown();
    if (p) await p.close();
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
    this.storage?.close();
    this.journalLock?.release();
  }

  status() {
    const p = this.peer;
    return {
      id: this.id,
      state: this.state,
      since: new Date(this.since).toISOString(),
      transport:
        "fleet" in this.cfg.transport
          ? `fleet ${this.cfg.transport.fleet.listen}`
          : "tcp" in this.cfg.transport
            ? `tcp ${this.cfg.transport.tcp.listen}${this.cfg.transport.tcp.tls ? " (TLS)" : ""}`
            : `serial ${this.cfg.transport.serial.path}`,
      session: this.sessionId,
      uplink: this.uplink,
      downlink: this.downlink,
      downlink_queued: this.downQueue.length,
      failures: this.failures,
      last_error: this.lastError ?? null,
      /** New connections still proving the device's key. */
      connecting: this.candidates.size,
      frames_in: p?.core.counter(Counter.FRAMES_IN) ?? null,
      frames_out: p?.core.counter(Counter.FRAMES_OUT) ?? null,
      journal_bytes: this.journalBytes(),
      pool: this.ident ?? null,
    };
  }
}
