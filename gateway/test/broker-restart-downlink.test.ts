// Why a QoS 2 command "acknowledged by the broker" could go missing around
// a broker restart (the known issue of the gateway test), step by step with
// a hand-driven MQTT publisher (mqtt-packet on a raw socket):
//
//   publisher -> PUBLISH (QoS 2)   broker stores it for the publisher's
//   publisher <- PUBREC            session; mosquitto hands it to
//                                  subscribers only when PUBREL comes
//   ---- broker restarts before the PUBREL reached it ----
//   publisher -> PUBREL            (resent after reconnecting)
//   publisher <- PUBCOMP           success, also in MQTT 5 (no 0x92)
//
// With a clean session the broker kept nothing of the publisher's, so its
// PUBCOMP answers a PUBREL it has no message for: the publisher is told
// "complete", the command never reaches any subscriber. The gateway's own
// subscription (persistent session, QoS 2) is not involved: the message
// never got to its session. With a persistent publisher session the broker
// saves the stored message with the session, releases it on the PUBREL, and
// the device gets the command. The gateway test now publishes commands that
// way and keeps them flowing through its broker restart.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { connect as netConnect, type Socket } from "node:net";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import * as mqttPacket from "mqtt-packet";
import { Gateway } from "../gateway.ts";
import { startDevice, Mosquitto, type TcpDevice, PacketInbox, freePort, until, writeDevKey } from "./helpers.ts";
import { QosStat } from "../../host/abi.ts";

const dir = mkdtempSync(join(tmpdir(), "qn-restart-"));

/** An MQTT client driven one packet at a time. */
class RawClient {
  private inbox = new PacketInbox();
  private constructor(
    private sock: Socket,
    private version: 4 | 5,
  ) {
    const parser = mqttPacket.parser({ protocolVersion: version });
    parser.on("packet", (p: any) => this.inbox.push(p));
    sock.on("data", (b: Buffer) => parser.parse(b));
    sock.on("error", () => {});
  }

  static async open(
    port: number,
    o: { clientId: string; clean: boolean; version: 4 | 5 },
  ): Promise<{ c: RawClient; sessionPresent: boolean }> {
    const sock = await new Promise<Socket>((r, j) => {
      const s = netConnect(port, "127.0.0.1", () => r(s));
      s.once("error", j);
    });
    const c = new RawClient(sock, o.version);
    c.send({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: o.version,
      clientId: o.clientId,
      clean: o.clean,
      keepalive: 30,
      ...(o.version === 5 && !o.clean ? { properties: { sessionExpiryInterval: 600 } } : {}),
    });
    const ack = await c.next("connack");
    return { c, sessionPresent: !!ack.sessionPresent };
  }

  send(p: object): void {
    this.sock.write(mqttPacket.generate(p as any, { protocolVersion: this.version }));
  }

  next(cmd: string, timeoutMs = 3000): Promise<any> {
    return this.inbox.next(cmd, timeoutMs);
  }

  close(): void {
    this.sock.destroy();
  }
}

describe("a QoS 2 command across a broker restart", () => {
  let broker: Mosquitto, gw: Gateway, dev: TcpDevice;
  const atGateway: string[] = [];

  beforeAll(async () => {
    const ports = { broker: await freePort(), dev: await freePort() };
    broker = new Mosquitto(ports.broker);
    await broker.start();
    writeDevKey(dir);
    writeFileSync(
      join(dir, "g.yaml"),
      `gateway: { spool: mqtt.spool }
mqtt: { url: "${broker.url}" }
devices:
  - id: dev1
    transport: { tcp: { listen: "127.0.0.1:${ports.dev}" } }
    key_file: k.hex
    journal: dev1.journal
    heartbeat_ms: 200
    heartbeat_misses: 10
    channels:
      - { channel: 9, topic: cmd, qos: 2, direction: down }
`,
    );
    gw = Gateway.fromFile(join(dir, "g.yaml"), { log: pino({ level: "silent" }) });
    await gw.start({ ops: false });
    gw.bridge.on("down", (_r: unknown, payload: Buffer) => atGateway.push(payload.toString()));
    dev = await startDevice(gw, "dev1", ports.dev, join(dir, "k.hex"));
  }, 30000);

  afterAll(async () => {
    await dev?.stop();
    await gw?.stop();
    await broker?.stop();
  });

  /** PUBLISH + PUBREC, broker restart, PUBREL + PUBCOMP; then did the
   *  command reach the gateway and the device? */
  async function acrossRestart(o: { clientId: string; clean: boolean; version: 4 | 5 }, payload: string) {
    const accepted = () => dev.sim!.core.qosStat(QosStat.Q2_ACCEPTED); // QoS 2 messages the device's core took
    const before = accepted();
    const { c } = await RawClient.open(broker.port, o);
    c.send({ cmd: "publish", topic: "qn/dev1/cmd", payload, qos: 2, messageId: 7, retain: false, dup: false });
    expect((await c.next("pubrec")).messageId).toBe(7);
    await broker.stop(); // SIGTERM: mosquitto saves its persistence file
    c.close();
    await broker.start();
    await until("gateway back on the broker", () => gw.bridge.connected, 10000);
    const again = await RawClient.open(broker.port, o);
    again.c.send({ cmd: "pubrel", messageId: 7 });
    const comp = await again.c.next("pubcomp");
    again.c.close();
    await until("the command at the device", () => accepted() > before, 3000).catch(() => {});
    return {
      sessionPresent: again.sessionPresent,
      pubcompReason: comp.reasonCode ?? 0,
      atGateway: atGateway.includes(payload),
      atDevice: accepted() - before,
    };
  }

  it("is lost, though the broker answers PUBCOMP, when the publisher's session is clean (the cause)", async () => {
    for (const version of [4, 5] as const) {
      const r = await acrossRestart(
        { clientId: `qn-clean-pub-v${version}`, clean: true, version },
        `clean-v${version}`,
      );
      expect(r).toEqual({ sessionPresent: false, pubcompReason: 0, atGateway: false, atDevice: 0 });
    }
  }, 60000);

  it("reaches the device when the publisher keeps a persistent session (the fix)", async () => {
    for (const version of [4, 5] as const) {
      const r = await acrossRestart(
        { clientId: `qn-persistent-pub-v${version}`, clean: false, version },
        `persistent-v${version}`,
      );
      expect(r).toEqual({ sessionPresent: true, pubcompReason: 0, atGateway: true, atDevice: 1 });
    }
  }, 60000);
});
