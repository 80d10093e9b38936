// The uplink spool: every QoS >= 1 message from a device, on its way to the
// broker, in an append-only file of JSON lines (json-log.ts):
//   {"m":seq,"d":device,"t":topic,"q":qos,"p":base64,"tp":traceparent,"id":message id}  a message
//   {"a":seq}                                                          the broker has it
// The device link waits for syncAsync() before any byte goes back to the
// device, so an acknowledgement (PUBACK / PUBREC) never leaves the gateway
// before the message it acknowledges is on disk. At start the file is
// replayed: what has no "a" record is sent again (at least once to the
// broker).
import type { Logger } from "pino";
import { JsonLog } from "./json-log.ts";

export interface SpoolEntry {
  seq: number;
  device: string;
  topic: string;
  qos: 0 | 1 | 2;
  payload: Buffer;
  traceparent?: string;
  /** The device message's stable id (message-id.ts), kept so a replay
   *  after a restart carries the same one. */
  msgId?: string;
}

export class Spool extends JsonLog<SpoolEntry> {
  constructor(path: string, log: Logger) {
    super(
      path,
      "spool",
      "message",
      {
        encode: (e) => ({
          d: e.device,
          t: e.topic,
          q: e.qos,
          p: e.payload.toString("base64"),
          tp: e.traceparent,
          id: e.msgId,
        }),
        decode: (r) =>
          typeof r.d === "string" &&
          typeof r.t === "string" &&
          (r.q === 0 || r.q === 1 || r.q === 2) &&
          typeof r.p === "string" &&
          (r.tp === undefined || typeof r.tp === "string") &&
          (r.id === undefined || typeof r.id === "string")
            ? {
                seq: r.m,
                device: r.d,
                topic: r.t,
                qos: r.q,
                payload: Buffer.from(r.p, "base64"),
                traceparent: r.tp,
                msgId: r.id,
              }
            : null,
      },
      log,
    );
  }
}
