// The downlink queue, on disk: every QoS 1 and 2 command the gateway has
// taken from the broker, from before it is acknowledged (PUBACK; for QoS 2
// before the incoming store releases it and mqtt.js answers PUBCOMP) until
// the device's core has it in its journal. Why a file: once acknowledged the
// broker never sends the command again, and a device can stay offline for a
// long time; with the command only in the link's memory a gateway crash in
// that interval lost it. A JsonLog (json-log.ts), like the uplink spool:
//   {"m":seq,"d":device,"c":channel,"q":qos,"r":prio,"t":topic,"p":base64,"tp":traceparent}  a command
//   {"a":seq}                                                                             the core has it
// The bridge calls back mqtt.js (which then acknowledges) only after
// syncAsync(). done() is written lazily: losing it only means the command
// goes to the device once more. At start every command with no "a" is
// queued again for its device, in order.
import type { Logger } from "pino";
import { JsonLog } from "./json-log.ts";

export interface DownEntry {
  seq: number;
  device: string;
  /** The device channel, QoS and priority of the route it came in on. */
  channel: number;
  qos: 0 | 1 | 2;
  prio: number;
  topic: string;
  payload: Buffer;
  /** The command's MQTT traceparent (valid), so a replayed command still joins its trace. */
  traceparent?: string;
}

export class DownQueue extends JsonLog<DownEntry> {
  /** Pending commands a core has taken in this run, waiting for its journal
   *  to be durable before done(): not handed out again (pendingFor). */
  private readonly taken = new Set<number>();
  private readonly perDevice = new Map<string, number>();

  constructor(path: string, log: Logger) {
    super(
      path,
      "downlink queue",
      "command",
      {
        encode: (e) => ({
          d: e.device,
          c: e.channel,
          q: e.qos,
          r: e.prio,
          t: e.topic,
          p: e.payload.toString("base64"),
          tp: e.traceparent,
        }),
        decode: (r) =>
          typeof r.d === "string" &&
          Number.isInteger(r.c) &&
          (r.q === 0 || r.q === 1 || r.q === 2) &&
          Number.isInteger(r.r) &&
          typeof r.t === "string" &&
          typeof r.p === "string" &&
          (r.tp === undefined || typeof r.tp === "string")
            ? {
                seq: r.m,
                device: r.d,
                channel: r.c,
                qos: r.q,
                prio: r.r,
                topic: r.t,
                payload: Buffer.from(r.p, "base64"),
                traceparent: r.tp,
              }
            : null,
      },
      log,
    );
    for (const e of this.pending.values()) this.added(e);
    if (this.pending.size)
      log.info(
        { file: path, commands: this.pending.size },
        "downlink queue: commands acknowledged before the restart are queued again for their devices",
      );
  }

  protected override added(e: DownEntry): void {
    this.perDevice.set(e.device, (this.perDevice.get(e.device) ?? 0) + 1);
  }
  protected override removed(e: DownEntry): void {
    this.taken.delete(e.seq);
    const n = (this.perDevice.get(e.device) ?? 1) - 1;
    if (n > 0) this.perDevice.set(e.device, n);
    else this.perDevice.delete(e.device);
  }

  /** Commands waiting (not yet in the device core's journal) for `device`. */
  count(device: string): number {
    return this.perDevice.get(device) ?? 0;
  }

  /** The pending commands of `device` no core has taken in this run, in order. */
  pendingFor(device: string): DownEntry[] {
    return [...this.pending.values()].filter((e) => e.device === device && !this.taken.has(e.seq));
  }

  /** A core accepted the command; done() follows once its journal is durable. */
  take(seq: number): void {
    if (this.pending.has(seq)) this.taken.add(seq);
  }
}
