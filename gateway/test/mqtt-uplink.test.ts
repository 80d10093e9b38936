// The uplink's own MQTT encoder and in-flight table (mqtt-uplink.ts),
// checked against mqtt-packet's parser (the one mosquitto's peers use).
import { describe, expect, it } from "vitest";
import { PassThrough } from "node:stream";
import mqttPacket from "mqtt-packet";
import { MqttUplink, UPLINK_IDS, mqttIdProvider } from "../mqtt-uplink.ts";

/** Everything `up` writes in one turn, parsed. */
function written<T>(up: MqttUplink<T>, version: 4 | 5): mqttPacket.Packet[] {
  const s = new PassThrough();
  up.write(s);
  const bytes = s.read() as Buffer | null;
  if (!bytes) return [];
  const parser = mqttPacket.parser({ protocolVersion: version });
  const out: mqttPacket.Packet[] = [];
  const errors: Error[] = [];
  parser.on("packet", (p) => out.push(p));
  parser.on("error", (e) => errors.push(e));
  parser.parse(bytes);
  expect(errors).toEqual([]);
  return out;
}

describe("uplink PUBLISH path", () => {
  it("encodes PUBLISH at each QoS with user properties that mqtt-packet reads back (MQTT 5 and 3.1.1)", () => {
    for (const version of [5, 4] as const) {
      const done: string[] = [];
      const up = new MqttUplink<string>(version, (m) => done.push(m));
      const payload = new Uint8Array(300).map((_, i) => i & 0xff); // remaining length needs 2 bytes
      up.publish("a", { topic: "qn/dev1/q0", qos: 0, payload: payload.subarray(0, 3) });
      up.publish("b", { topic: "qn/dév/q1", qos: 1, payload, props: [["traceparent", "00-ab-cd-01"]] });
      up.publish("c", {
        topic: "qn/dev1/q2",
        qos: 2,
        payload: payload.subarray(0, 32),
        props: [
          ["traceparent", "t"],
          ["qn-msg-id", "dev1:0:2:7"],
        ],
      });
      expect(up.inflight).toBe(3);
      const ps = written(up, version) as mqttPacket.IPublishPacket[];
      expect(done).toEqual(["a"]); // QoS 0 is done once written
      expect(ps.map((p) => [p.cmd, p.topic, p.qos, p.dup, p.messageId])).toEqual([
        ["publish", "qn/dev1/q0", 0, false, undefined],
        ["publish", "qn/dév/q1", 1, false, 1],
        ["publish", "qn/dev1/q2", 2, false, 2],
      ]);
      expect([...(ps[1].payload as Buffer)]).toEqual([...payload]);
      if (version === 5) {
        expect(ps[1].properties?.userProperties).toEqual({ traceparent: "00-ab-cd-01" });
        expect(ps[2].properties?.userProperties).toEqual({ traceparent: "t", "qn-msg-id": "dev1:0:2:7" });
      } else expect(ps[2].properties).toBeUndefined();
    }
  });

  it("completes QoS 1 on PUBACK and QoS 2 on PUBREC, PUBREL, PUBCOMP; a refusal gives its reason code", () => {
    const done: [string, number | undefined][] = [];
    const up = new MqttUplink<string>(5, (m, rc) => done.push([m, rc]));
    const payload = new Uint8Array(4);
    up.publish("q1", { topic: "t", qos: 1, payload });
    up.publish("q2", { topic: "t", qos: 2, payload });
    up.publish("bad", { topic: "t", qos: 1, payload });
    written(up, 5);
    expect(up.handle({ cmd: "pubrec", messageId: 2 })).toBe(true);
    const rel = written(up, 5);
    expect(rel.map((p) => [p.cmd, (p as mqttPacket.IPubrelPacket).messageId])).toEqual([["pubrel", 2]]);
    expect(done).toEqual([]);
    up.handle({ cmd: "puback", messageId: 1, reasonCode: 0x10 }); // no matching subscribers: fine
    up.handle({ cmd: "pubcomp", messageId: 2 });
    up.handle({ cmd: "puback", messageId: 3, reasonCode: 0x87 });
    expect(done).toEqual([
      ["q1", undefined],
      ["q2", undefined],
      ["bad", 0x87],
    ]);
    expect(up.inflight).toBe(0);
    // mqtt.js's own ids are not ours; a stale ack of ours is swallowed.
    expect(up.handle({ cmd: "suback", messageId: UPLINK_IDS + 1 })).toBe(false);
    expect(up.handle({ cmd: "puback", messageId: 1 })).toBe(true);
    // The broker's own packets with an id of ours in flight are mqtt.js's.
    up.publish("q1b", { topic: "t", qos: 2, payload });
    written(up, 5);
    expect(up.handle({ cmd: "pubrel", messageId: 4 })).toBe(false);
    expect(up.handle({ cmd: "publish", messageId: 4 })).toBe(false);
    expect(up.inflight).toBe(1);
  });

  it("resends in order on a resumed session (DUP PUBLISH, or PUBREL once PUBREC'd) and hands all back on a lost one", () => {
    const up = new MqttUplink<string>(5, () => {});
    const payload = new Uint8Array(1);
    for (const m of ["m1", "m2", "m3"]) up.publish(m, { topic: m, qos: 2, payload });
    written(up, 5);
    up.handle({ cmd: "pubrec", messageId: 2 });
    up.dropUnwritten(); // the connection died before the PUBREL left
    up.resend();
    const again = written(up, 5);
    expect(again.map((p) => [p.cmd, (p as mqttPacket.IPublishPacket).dup ?? false, p.messageId])).toEqual([
      ["publish", true, 1],
      ["pubrel", false, 2],
      ["publish", true, 3],
    ]);
    expect(up.takeAll()).toEqual(["m1", "m2", "m3"]);
    expect(up.inflight).toBe(0);
  });

  it("skips ids still in flight when the numbering wraps, and leaves mqtt.js the rest", () => {
    const up = new MqttUplink<unknown>(5, () => {});
    const payload = new Uint8Array(1);
    up.publish(0, { topic: "t", qos: 1, payload }); // id 1, never acknowledged
    for (let i = 1; i < UPLINK_IDS; i++) {
      up.publish(i, { topic: "t", qos: 1, payload });
      up.handle({ cmd: "puback", messageId: i + 1 });
    }
    up.publish(-1, { topic: "t", qos: 1, payload });
    const ids = written(up, 5).map((p) => p.messageId);
    expect(ids.at(-1)).toBe(2); // 1 is still in flight
    const mq = mqttIdProvider();
    const got = Array.from({ length: 0x10000 - UPLINK_IDS }, () => mq.allocate());
    expect(Math.min(...got)).toBe(UPLINK_IDS + 1);
    expect(got.at(-1)).toBe(UPLINK_IDS + 1); // wrapped within its own range
  });
});
