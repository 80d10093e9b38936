// The device links the other suites do not reach: a serial port (through
// @serialport/binding-mock, the gateway's SerialTransport unchanged) and TCP
// with TLS 1.3 and mutual certificates (throwaway certificates made with
// openssl at test time). Each carries traffic both ways through mosquitto
// with nothing lost; a pulled cable comes back; a missing port, a client
// without a certificate, with one from another CA, with another device's
// name, or limited to TLS 1.2, is refused without touching the other links.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { connect, type MqttClient } from "mqtt";
import { ROOT } from "../../host/status.ts";
import { readKey } from "../../selftest/targets.ts";
import { SimDevice } from "../../host/sim-device.ts";
import { Codec, Prio, Qos } from "../../host/abi.ts";
import { tcpConnect, type TcpTransport } from "../../host/transport/tcp.ts";
import { parseConfig } from "../config.ts";
import { Gateway } from "../gateway.ts";
import {
  Mosquitto,
  freePort,
  sleep,
  until,
  writeDevKey,
  makeTestCerts,
  clientTls as testClientTls,
} from "./helpers.ts";
import { MockCable } from "./mock-serial.ts";

const dir = mkdtempSync(join(tmpdir(), "qn-links-"));
const lines: any[] = [];
const logger = pino(
  { level: "debug" },
  {
    write: (s: string) => {
      lines.push(JSON.parse(s));
    },
  },
);
const KEY = readKey(join(ROOT, "boards/dev-psk.hex"));

const clientTls = (who?: string, extra: object = {}) => testClientTls(dir, who, extra);

describe("serial and TLS device links", () => {
  let broker: Mosquitto, gw: Gateway, sub: MqttClient, pub: MqttClient;
  let tlsAddr = "";
  const cable = new MockCable("/dev/qn-mock-ser1");
  let serialDev: SimDevice;
  let tlsDev: SimDevice | undefined, tlsSock: TcpTransport | undefined;
  const got = new Map<string, string[]>();

  beforeAll(async () => {
    makeTestCerts(dir);
    const ports = { broker: await freePort(), tls: await freePort() };
    tlsAddr = `127.0.0.1:${ports.tls}`;
    broker = new Mosquitto(ports.broker);
    await broker.start();
    writeDevKey(dir);
    const channels = `
    channels:
      - { channel: 1, topic: telemetry, qos: 1, direction: up }
      - { channel: 5, topic: echo, qos: 1, direction: up }
      - { channel: 5, topic: cmd, qos: 1, direction: down }`;
    writeFileSync(
      join(dir, "gateway.yaml"),
      `gateway: { spool: mqtt.spool }
mqtt: { url: "${broker.url}" }
tls: { cert: gateway.crt, key: gateway.key, ca: qn-ca.crt }
devices:
  - id: ser1
    transport: { serial: { path: ${cable.path}, baud: 921600 } }
    key_file: k.hex
    journal: ser1.journal
    heartbeat_ms: 200${channels}
  - id: tls1
    transport: { tcp: { listen: "${tlsAddr}", tls: true, peer_name: tls-dev } }
    key_file: k.hex
    journal: tls1.journal
    heartbeat_ms: 200${channels}
  - id: nowhere
    transport: { serial: { path: /dev/qn-no-such-port } }
    key_file: k.hex
    journal: nowhere.journal
`,
    );
    gw = Gateway.fromFile(join(dir, "gateway.yaml"), { log: logger, serialBinding: cable.binding });
    await gw.start({ ops: false });
    sub = connect(broker.url, { clientId: "qn-links-sub", protocolVersion: 5, reconnectPeriod: 200 });
    sub.on("message", (topic, payload) => {
      if (!got.has(topic)) got.set(topic, []);
      got.get(topic)!.push(payload.toString());
    });
    await new Promise<void>((r) => sub.once("connect", () => sub.subscribe("qn/#", { qos: 1 }, () => r())));
    pub = connect(broker.url, { clientId: "qn-links-pub", protocolVersion: 5, reconnectPeriod: 200 });
    await new Promise<void>((r) => pub.once("connect", () => r()));
    serialDev = new SimDevice(cable.device, { key: KEY, auth: 2 });
  }, 60000);

  afterAll(async () => {
    serialDev?.close();
    tlsDev?.close();
    await tlsSock?.close();
    await gw?.stop();
    sub?.end(true);
    pub?.end(true);
    await broker?.stop();
  });

  const up = (id: string) => gw.links.get(id)!.state === "up";

  /** `n` QoS 1 messages from the device and `n` QoS 1 commands echoed back:
   *  returns how many of each did not arrive. */
  async function traffic(id: string, dev: SimDevice, n: number, tag: string): Promise<{ up: number; down: number }> {
    const sent: string[] = [];
    for (let i = 0; i < n; i++) {
      const body = Buffer.from(`${tag}-up-${i}`);
      for (;;) {
        if (dev.core.tryPublish(1, Qos.AT_LEAST_ONCE, Prio.BULK, Codec.NONE, body) > 0) break;
        await sleep(5); // window full: wait for acknowledgements
      }
      sent.push(body.toString());
    }
    const has = (topic: string, want: string[]) => want.filter((w) => !(got.get(topic) ?? []).includes(w));
    await until(`${id} uplink`, () => has(`qn/${id}/telemetry`, sent).length === 0, 10000).catch(() => {});
    // Commands in batches of 4, each batch's echoes awaited, after the
    // uplink: the demo device echoes only what fits its send window and
    // drops the rest (as the firmware's demo does), which would count as
    // loss here.
    const cmds = Array.from({ length: n }, (_, i) => `${tag}-cmd-${i}`);
    for (let i = 0; i < n; i += 4) {
      const batch = cmds.slice(i, i + 4);
      await Promise.all(
        batch.map(
          (c) => new Promise<void>((r, j) => pub.publish(`qn/${id}/cmd`, c, { qos: 1 }, (e) => (e ? j(e) : r()))),
        ),
      );
      await until(`${id} echo of ${batch}`, () => has(`qn/${id}/echo`, batch).length === 0, 5000).catch(() => {});
    }
    return { up: has(`qn/${id}/telemetry`, sent).length, down: has(`qn/${id}/echo`, cmds).length };
  }

  it("config: a serial baud rate of 0, peer_name without TLS, a port past 65535 and an unknown auth mode are refused, naming the key", () => {
    const base = `mqtt: { url: "mqtt://127.0.0.1:1" }\ndevices:\n  - { id: a, key_file: k.hex, journal: a.j, transport: `;
    expect(() => parseConfig(base + `{ serial: { path: /dev/x, baud: 0 } } }`, "t", dir)).toThrow(
      /devices\[0\]\.transport/,
    );
    expect(() => parseConfig(base + `{ tcp: { listen: "127.0.0.1:1", peer_name: a } } }`, "t", dir)).toThrow(
      /devices\[0\]\.transport\.tcp\.peer_name: needs tls: true/,
    );
    expect(() => parseConfig(base + `{ tcp: { listen: "127.0.0.1:99999" } } }`, "t", dir)).toThrow(
      /devices\[0\]\.transport\.tcp\.listen: port 99999 out of range: expected 1-65535/,
    );
    expect(() => parseConfig(base + `{ tcp: { listen: "127.0.0.1:0" } } }`, "t", dir)).toThrow(/port 0 out of range/);
    expect(() =>
      parseConfig(
        `gateway: { ops: { listen: "127.0.0.1:70000" } }\n` + base + `{ tcp: { listen: "127.0.0.1:7001" } } }`,
        "t",
        dir,
      ),
    ).toThrow(/gateway\.ops\.listen: port 70000 out of range/);
    expect(() => parseConfig(base + `{ tcp: { listen: "127.0.0.1:7001" } }, auth: 7 }`, "t", dir)).toThrow(
      /devices\[0\]\.auth: expected 0 \(none\), 1 \(handshake\) or 2/,
    );
    expect(parseConfig(base + `{ tcp: { listen: "127.0.0.1:65535" } } }`, "t", dir).devices[0].transport).toEqual({
      tcp: { listen: "127.0.0.1:65535", tls: false },
    });
    // A YAML error: one line, with where and what kind, without the file's text.
    expect(() => parseConfig(`mqtt: { url: a: b }`, "t", dir)).toThrow(
      /YAML syntax error at line 1, column 14: a block collection inside \[ \] or \{ \}$/,
    );
  });

  it("serial: a device on a serial port moves messages both ways with nothing lost", async () => {
    await until("serial link up", () => up("ser1"), 10000);
    const lost = await traffic("ser1", serialDev, 200, "s1");
    console.log(`links test: serial device, 200 up + 200 commands echoed, lost up ${lost.up} down ${lost.down}`);
    expect(lost).toEqual({ up: 0, down: 0 });
  }, 30000);

  it("serial: a pulled cable takes the link down, the port is reopened and the link comes back", async () => {
    const opens = cable.opens;
    const session = gw.links.get("ser1")!.sessionId;
    cable.unplug();
    await until("link down", () => !up("ser1"), 5000);
    await until("port reopened and link up", () => cable.opens > opens && up("ser1"), 15000);
    expect(gw.links.get("ser1")!.sessionId).not.toBe(session);
    const downs = await gw.metrics.registry.getSingleMetricAsString("qn_link_down_total");
    expect(downs).toMatch(/qn_link_down_total\{device="ser1"\} 1/);
    const lost = await traffic("ser1", serialDev, 50, "s2");
    expect(lost).toEqual({ up: 0, down: 0 });
  }, 30000);

  it("serial: a port that does not exist is retried and reported, once per reason", async () => {
    const l = gw.links.get("nowhere")!;
    await until("failures", () => l.failures >= 2, 10000);
    expect(l.state).not.toBe("up");
    expect(l.lastError).toMatch(/cannot open \/dev\/qn-no-such-port/);
    expect(lines.filter((x) => x.device === "nowhere" && x.msg.startsWith("serial port not available"))).toHaveLength(
      1,
    );
  }, 15000);

  it("TLS 1.3 with mutual certificates: the device with its certificate gets a session and moves messages", async () => {
    tlsSock = await tcpConnect(tlsAddr, clientTls("tls-dev"));
    expect((tlsSock.socket as import("node:tls").TLSSocket).getProtocol()).toBe("TLSv1.3");
    tlsDev = new SimDevice(tlsSock, { key: KEY, auth: 2 });
    await until("TLS link up", () => up("tls1"), 10000);
    const lost = await traffic("tls1", tlsDev, 200, "t1");
    console.log(`links test: TLS device, 200 up + 200 commands echoed, lost up ${lost.up} down ${lost.down}`);
    expect(lost).toEqual({ up: 0, down: 0 });
  }, 30000);

  it("TLS: refuses a client without a certificate, with one from another CA, with another device's name, and TLS 1.2; the device's link stays", async () => {
    const link = gw.links.get("tls1")!;
    const session = link.sessionId;
    /** Connect and speak: "open" if the gateway kept the connection for a
     *  second, else how it was refused. */
    const attempt = async (tls: object): Promise<string> => {
      let t: TcpTransport;
      try {
        t = await tcpConnect(tlsAddr, tls as any);
      } catch (e) {
        return `refused at handshake: ${(e as Error).message}`;
      }
      const closed = new Promise<string>((r) => t.onClose((e) => r(`closed: ${e?.message ?? ""}`)));
      await t.write(new Uint8Array([0])).catch(() => {});
      const r = await Promise.race([closed, sleep(1000).then(() => "open")]);
      await t.close();
      return r;
    };
    const before = link.failures;
    const results = {
      noCert: await attempt(clientTls()),
      rogueCa: await attempt(clientTls("rogue-dev")),
      otherName: await attempt(clientTls("other-dev")),
      tls12: await attempt(clientTls("tls-dev", { maxVersion: "TLSv1.2", minVersion: "TLSv1.2" })),
    };
    for (const [k, v] of Object.entries(results)) expect(v, k).not.toBe("open");
    console.log(`links test: TLS refusals ${JSON.stringify(results)}`);
    // The gateway counts and logs each refusal.
    await until("failures counted", () => link.failures >= before + 4, 3000);
    expect(link.lastError).toMatch(/TLS/);
    expect(lines.some((x) => x.device === "tls1" && x.msg === "TLS client refused" && /other-dev/.test(x.err))).toBe(
      true,
    );
    // None of them took the device's link.
    expect(up("tls1")).toBe(true);
    expect(link.sessionId).toBe(session);
    const lost = await traffic("tls1", tlsDev!, 20, "t2");
    expect(lost).toEqual({ up: 0, down: 0 });
  }, 30000);
});
