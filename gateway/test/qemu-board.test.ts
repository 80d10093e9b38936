// A QEMU board behind the gateway: the real mps2-an500 firmware (Cortex-M7
// in QEMU) on its pty through the gateway's serial device link, next to an
// in-process device over TCP, both bridged to mosquitto. Commands go down
// to each device and come back as their echoes (the firmware's demo echoes
// QoS 0/1 DATA, consumes QoS 2), the in-process device also publishes its
// own messages; nothing may be lost, and a command's trace id comes back in
// its echo after a trip through the firmware; the live-link selftest runs
// on the board. QEMU is killed by its pid in
// afterAll, also when a step fails.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { connect, type MqttClient } from "mqtt";
import { readKey } from "../../selftest/targets.ts";
import { formatTraceparent, parseTraceparent, newSpanId, newTraceId } from "../../host/trace.ts";
import { buildFirmware } from "../../boards/test/build.ts";
import { Qemu } from "../../host/qemu.ts";
import { Gateway } from "../gateway.ts";
import { liveSelftest, LIVE_SKIPS } from "../selftest-live.ts";
import { Mosquitto, TcpDevice, freePort, sleep, until, writeDevKey } from "./helpers.ts";
import { QosStat } from "../../host/abi.ts";

const dir = mkdtempSync(join(tmpdir(), "qn-gw-qemu-"));
const lines: any[] = [];
const logger = pino(
  { level: "info" },
  {
    write: (s: string) => {
      lines.push(JSON.parse(s));
    },
  },
);

describe("QEMU board and an in-process device behind the gateway", () => {
  let q: Qemu | undefined,
    broker: Mosquitto | undefined,
    gw: Gateway | undefined,
    sub: MqttClient | undefined,
    pub: MqttClient | undefined;
  let sim: TcpDevice | undefined;
  const got = new Map<string, { payload: string; traceparent?: string }[]>();

  beforeAll(async () => {
    const elf = buildFirmware("mps2-an500", "release");
    const ports = { broker: await freePort(), sim: await freePort() };
    broker = new Mosquitto(ports.broker);
    await broker.start();
    // Halted until the gateway has the pty open: QEMU drops UART bytes
    // written before the host opens it.
    q = await Qemu.start({ elf });
    writeDevKey(dir);
    writeFileSync(
      join(dir, "gateway.yaml"),
      `gateway: { spool: mqtt.spool }
mqtt: { url: "${broker.url}" }
devices:
  - id: board
    transport: { serial: { path: ${q.pty}, baud: 921600 } }
    key_file: k.hex
    journal: board.journal
    heartbeat_ms: 1000
    heartbeat_misses: 5
    retransmit_ms: 500
    channels:
      - { channel: 1, topic: echo, qos: 1, direction: up }
      - { channel: 1, topic: cmd, qos: 1, direction: down }
      - { channel: 2, topic: cmd2, qos: 2, direction: down }
  - id: sim
    transport: { tcp: { listen: "127.0.0.1:${ports.sim}" } }
    key_file: k.hex
    journal: sim.journal
    heartbeat_ms: 200
    channels:
      - { channel: 1, topic: telemetry, qos: 1, direction: up }
      - { channel: 5, topic: echo, qos: 1, direction: up }
      - { channel: 5, topic: cmd, qos: 1, direction: down }
`,
    );
    gw = Gateway.fromFile(join(dir, "gateway.yaml"), { log: logger });
    await gw.start({ ops: false });
    await until("board port open", () => gw!.links.get("board")!.state === "handshake", 10000);
    await q.cont();
    sub = connect(broker.url, { clientId: "qn-qemu-sub", protocolVersion: 5, reconnectPeriod: 200 });
    sub.on("message", (topic, payload, packet) => {
      const tp = packet.properties?.userProperties?.traceparent;
      if (!got.has(topic)) got.set(topic, []);
      got.get(topic)!.push({ payload: payload.toString(), traceparent: typeof tp === "string" ? tp : undefined });
    });
    await new Promise<void>((r) => sub!.once("connect", () => sub!.subscribe("qn/#", { qos: 1 }, () => r())));
    pub = connect(broker.url, { clientId: "qn-qemu-pub", protocolVersion: 5, reconnectPeriod: 200 });
    await new Promise<void>((r) => pub!.once("connect", () => r()));
    sim = new TcpDevice("sim", `127.0.0.1:${ports.sim}`, readKey(join(dir, "k.hex")));
    void sim.run();
    // The first handshake can miss while QEMU first polls the fresh pty;
    // the link retries on its own.
    await until(
      "both links up",
      () => gw!.links.get("board")!.state === "up" && gw!.links.get("sim")!.state === "up" && sim!.up,
      60000,
    );
  }, 300_000);

  afterAll(async () => {
    try {
      await sim?.stop();
      await gw?.stop();
      sub?.end(true);
      pub?.end(true);
      await broker?.stop();
    } finally {
      await q?.stop(); // by pid, whatever failed above
    }
  });

  const payloads = (topic: string) => (got.get(topic) ?? []).map((g) => g.payload);
  const missing = (topic: string, want: string[]) => want.filter((w) => !payloads(topic).includes(w));
  const publish = (topic: string, payload: string, qos: 1 | 2, traceparent?: string) =>
    new Promise<void>((r, j) =>
      pub!.publish(
        topic,
        payload,
        { qos, properties: traceparent ? { userProperties: { traceparent } } : undefined },
        (e) => (e ? j(e) : r()),
      ),
    );

  /** Commands to `id` in batches, each batch's echoes awaited (the demo
   *  application echoes what fits its window; the firmware keeps one
   *  pending echo, the in-process device drops the rest). */
  async function commands(id: string, n: number, batch: number, timeoutMs: number): Promise<string[]> {
    const cmds = Array.from({ length: n }, (_, i) => `${id}-cmd-${i}`);
    for (let i = 0; i < n; i += batch) {
      const b = cmds.slice(i, i + batch);
      await Promise.all(b.map((c) => publish(`qn/${id}/cmd`, c, 1)));
      await until(`echo of ${b}`, () => missing(`qn/${id}/echo`, b).length === 0, timeoutMs).catch(() => {});
    }
    return missing(`qn/${id}/echo`, cmds);
  }

  it("moves messages both ways through mosquitto for both devices, nothing lost", async () => {
    const board = gw!.links.get("board")!,
      simLink = gw!.links.get("sim")!;
    const boardSession = board.sessionId,
      simSession = simLink.sessionId;
    // The in-process device publishes while the board works through its
    // commands: the two links run side by side.
    const simSent: string[] = [];
    const SIM_UP = 200,
      until30s = Date.now() + 30_000;
    const producer = (async () => {
      for (let n = 0; n < SIM_UP && Date.now() < until30s; ) {
        const body = `sim-up-${n}`;
        if (sim!.publishBody(1, 1, Buffer.from(body)) > 0) {
          simSent.push(body);
          n++;
        } else await sleep(5);
      }
    })();
    const boardLost = await commands("board", 60, 4, 10000);
    // Its messages go on after the board's commands if those were quick.
    await producer;
    await until("sim uplink", () => missing("qn/sim/telemetry", simSent).length === 0, 20000).catch(() => {});
    const simUpLost = missing("qn/sim/telemetry", simSent);
    const simDownLost = await commands("sim", 100, 4, 5000);
    // QoS 2 commands to the board: the firmware consumes them; the
    // gateway's core sees each completed (PUBCOMP), nothing in flight.
    const down2 = board.downlink;
    for (let i = 0; i < 10; i++) await publish("qn/board/cmd2", `board-q2-${i}`, 2);
    await until(
      "QoS 2 commands completed",
      () => board.downlink - down2 === 10 && board.peer!.core.qosStat(QosStat.IN_FLIGHT) === 0,
      20000,
    ).catch(() => {});
    const q2done = board.downlink - down2;
    const inflight = board.peer!.core.qosStat(QosStat.IN_FLIGHT);
    const up = simSent.length + 60 + 100,
      down = 60 + 100 + 10;
    const lost = boardLost.length + simUpLost.length + simDownLost.length + (10 - q2done);
    console.log(
      `gateway+QEMU test: 2 devices (QEMU mps2-an500 firmware over its pty, in-process over TCP), ${down} commands down (board 60 QoS 1 + 10 QoS 2, sim 100 QoS 1), ${up} messages up (board 60 echoes, sim ${simSent.length} + 100 echoes), lost ${lost}`,
    );
    expect({ boardLost, simUpLost, simDownLost, q2done, inflight }).toEqual({
      boardLost: [],
      simUpLost: [],
      simDownLost: [],
      q2done: 10,
      inflight: 0,
    });
    expect(simSent.length).toBe(SIM_UP);
    // No link dropped on the way.
    expect([board.sessionId, simLink.sessionId]).toEqual([boardSession, simSession]);
    expect(lines.filter((l) => l.msg === "link down")).toEqual([]);
  }, 180_000);

  it("keeps a command's trace through the firmware: the echo carries the command's trace id", async () => {
    const traceId = newTraceId();
    await publish("qn/board/cmd", "traced-cmd", 1, formatTraceparent({ traceId, spanId: newSpanId(), traceFlags: 1 }));
    await until("echo", () => payloads("qn/board/echo").includes("traced-cmd"), 10000);
    // The firmware echoed the frame with its TRACE flag and context; the
    // gateway stripped the 26 bytes again before MQTT.
    const echo = got.get("qn/board/echo")!.find((g) => g.payload === "traced-cmd")!;
    expect(parseTraceparent(echo.traceparent)?.traceId).toBe(traceId);
  }, 30_000);

  it("runs the live-link selftest on the board: nothing fails, the board's own stack and image checks included", async () => {
    const board = gw!.links.get("board")!;
    const session = board.sessionId;
    const { report } = await liveSelftest(board);
    const by = new Map(report.tests.map((t) => [t.id, t]));
    const failed = report.tests.filter((t) => t.status === "FAIL").map((t) => `${t.id}: ${t.detail}`);
    expect(failed).toEqual([]);
    // On the board these run too (in-process they cannot): painted stack,
    // and the firmware image's CRC against the build.
    expect(by.get("mem.stack")!.status).toBe("PASS");
    expect(by.get("core.integrity")!.status).toBe("PASS");
    expect(report.summary.skipped).toBe(Object.keys(LIVE_SKIPS).length);
    expect(board.sessionId).toBe(session);
  }, 60_000);
});
