// Commands acknowledged to the broker survive a gateway crash while their
// device is offline (gateway/down-queue.ts), packet by packet against a
// fake broker:
//
//   broker -> PUBLISH QoS 1 (id 5), <- PUBACK     the command is in <spool>.down when the PUBACK is read
//   broker -> PUBLISH QoS 2 (id 7), <- PUBREC, -> PUBREL, <- PUBCOMP   the same at the PUBCOMP
//   the gateway "crashes" at the PUBCOMP (its directory copied as it is
//   then), a new gateway starts on the copy, the device connects to it and
//   gets each command once.
//
// Before the downlink queue both waited only in the link's memory: the new
// gateway had nothing to send, and the device never got them.
import { describe, it, expect, afterEach } from "vitest";
import { mkdtempSync, cpSync, writeFileSync, readFileSync, appendFileSync, existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { Bridge, type DownRoute } from "../bridge.ts";
import { Spool } from "../spool.ts";
import { DownQueue } from "../down-queue.ts";
import { TRUNCATE_BYTES } from "../json-log.ts";
import { createMetrics } from "../metrics.ts";
import { Gateway } from "../gateway.ts";
import { startDevice, FakeBroker, freePort, until, sleep, type Version, writeDevKey } from "./helpers.ts";
import { QosStat } from "../../host/abi.ts";

const silent = pino({ level: "silent" });
const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe.each([5, 4] as const)(
  "QoS 1 and 2 commands for an offline device across a gateway crash (MQTT %s)",
  (version: Version) => {
    it("are on disk before they are acknowledged, and reach the device once from the new gateway", async () => {
      const broker = new FakeBroker(version);
      await broker.start();
      cleanup.push(() => broker.stop());
      const devPort = await freePort();
      const dir = mkdtempSync(join(tmpdir(), "qn-down-a-")),
        copy = mkdtempSync(join(tmpdir(), "qn-down-b-"));
      writeDevKey(dir);
      // Channel 8 also maps up: the emulated device echoes a QoS 1 command
      // back, so the broker sees each time the device got it.
      writeFileSync(
        join(dir, "g.yaml"),
        `gateway: { spool: mqtt.spool }
mqtt: { url: "${broker.url}", client_id: qn-gw-down-test, protocol_version: ${version} }
devices:
  - id: dev1
    transport: { tcp: { listen: "127.0.0.1:${devPort}" } }
    key_file: k.hex
    journal: dev1.journal
    heartbeat_ms: 200
    heartbeat_misses: 10
    channels:
      - { channel: 8, topic: cmd1, qos: 1, direction: down }
      - { channel: 8, topic: echo, qos: 1, direction: up }
      - { channel: 9, topic: cmd2, qos: 2, direction: down }
`,
      );
      const downFile = join(dir, "mqtt.spool.down");
      const a = Gateway.fromFile(join(dir, "g.yaml"), { log: silent });
      let aStopped = false;
      cleanup.push(() => aStopped || a.stop());
      await a.start({ ops: false });
      const c = await broker.conn(0);
      await until("first gateway connected", () => a.bridge.connected, 5000);
      // What the file holds at the instant the broker reads each acknowledgement.
      const seen: Record<string, { text: string; synced: boolean }> = {};
      c.onPacket = (p) => {
        if (p.cmd !== "puback" && p.cmd !== "pubcomp") return;
        seen[p.cmd] = {
          text: existsSync(downFile) ? readFileSync(downFile, "utf8") : "",
          synced: a.bridge.down.synced,
        };
        if (p.cmd !== "pubcomp") return;
        // The crash: the next gateway gets what is on disk now, and this one
        // never says another word to the broker.
        cpSync(dir, copy, { recursive: true });
        a.bridge.client.end(true);
        c.sock.destroy();
      };
      c.send({
        cmd: "publish",
        topic: "qn/dev1/cmd1",
        payload: "valve-1",
        qos: 1,
        messageId: 5,
        retain: false,
        dup: false,
      });
      expect((await c.next("puback")).messageId).toBe(5);
      c.send({
        cmd: "publish",
        topic: "qn/dev1/cmd2",
        payload: "valve-2",
        qos: 2,
        messageId: 7,
        retain: false,
        dup: false,
      });
      expect((await c.next("pubrec")).messageId).toBe(7);
      c.send({ cmd: "pubrel", messageId: 7 });
      expect((await c.next("pubcomp")).messageId).toBe(7);
      // In the file, and its fdatasync returned, before the broker had the acknowledgement.
      expect(seen.puback.text).toContain(b64("valve-1"));
      expect(seen.pubcomp.text).toContain(b64("valve-2"));
      expect([seen.puback.synced, seen.pubcomp.synced]).toEqual([true, true]);
      expect(a.links.get("dev1")!.downQueued).toBe(2); // waiting for the offline device
      aStopped = true;
      await a.stop(); // frees the device port; what it writes now is not in the copy

      broker.onConnect = (conn) => conn.connack(true);
      const n = broker.conns.length;
      const b = Gateway.fromFile(join(copy, "g.yaml"), { log: silent });
      cleanup.push(() => b.stop());
      await b.start({ ops: false });
      const c2 = await broker.conn(n);
      // Echoes acknowledged (the gateway's clean stop waits for its in-flight publishes).
      c2.onPacket = (p) => {
        if (p.cmd === "publish" && p.qos === 1) c2.send({ cmd: "puback", messageId: p.messageId });
      };
      const link = b.links.get("dev1")!;
      expect(link.downQueued).toBe(2); // replayed from the file, before the device is there
      const dev = await startDevice(b, "dev1", devPort, join(copy, "k.hex"), 15000);
      cleanup.push(() => dev.stop());
      await until(
        "the QoS 2 command at the device's core",
        () => dev.sim!.core.qosStat(QosStat.Q2_ACCEPTED) === 1,
        5000,
      );
      const echo = await c2.next("publish", 5000);
      expect({ topic: echo.topic, payload: echo.payload.toString() }).toEqual({
        topic: "qn/dev1/echo",
        payload: "valve-1",
      });
      await until("both done in the file", () => b.bridge.down.pending.size === 0, 5000);
      await sleep(300); // room for a second delivery, if there were one
      expect(c2.got.filter((p) => p.cmd === "publish").length).toBe(0);
      expect(dev.sim!.core.qosStat(QosStat.Q2_ACCEPTED)).toBe(1);
      expect({ downlink: link.downlink, queued: link.downQueued }).toEqual({ downlink: 2, queued: 0 });
      // Done records written: a third start would queue nothing again.
      await b.bridge.down.syncAsync();
      const again = new DownQueue(join(copy, "mqtt.spool.down"), silent);
      expect(again.pending.size).toBe(0);
      again.close();
    }, 40000);
  },
);

describe("the downlink queue's bound", () => {
  it("MQTT 5: a QoS 1 / 2 command beyond mqtt.queue_limit for the device is refused (0x97), not acknowledged and dropped", async () => {
    const broker = new FakeBroker(5);
    await broker.start();
    cleanup.push(() => broker.stop());
    const dir = mkdtempSync(join(tmpdir(), "qn-down-bound-"));
    const spool = new Spool(join(dir, "mqtt.spool"), silent);
    const metrics = createMetrics();
    const bridge = new Bridge(
      { url: broker.url, topic_prefix: "qn", queue_limit: 2, client_id: "qn-gw-bound", protocol_version: 5 },
      spool,
      silent,
      metrics,
    );
    cleanup.push(async () => {
      await bridge.close();
      spool.close();
    });
    const down: string[] = [];
    bridge.on("down", (_r: DownRoute, payload: Buffer) => down.push(payload.toString()));
    bridge.setRoutes(new Map([["qn/dev1/cmd", { device: "dev1", channel: 9, qos: 2, prio: 0 }]]));
    const c = await broker.conn(0);
    await until("connected", () => bridge.connected, 5000);
    const pub = (id: number, qos: 1 | 2) =>
      c.send({
        cmd: "publish",
        topic: "qn/dev1/cmd",
        payload: `c${id}`,
        qos,
        messageId: id,
        retain: false,
        dup: false,
      });
    pub(1, 1);
    pub(2, 1);
    pub(3, 1);
    pub(4, 2);
    // No device link takes them: two fill the device's queue.
    const acks = [await c.next("puback"), await c.next("puback"), await c.next("puback")];
    expect(acks.map((p) => [p.messageId, p.reasonCode ?? 0])).toEqual([
      [1, 0],
      [2, 0],
      [3, 0x97],
    ]);
    const rec = await c.next("pubrec");
    expect([rec.messageId, rec.reasonCode]).toEqual([4, 0x97]);
    expect(down).toEqual(["c1", "c2"]);
    expect(bridge.incoming.packets()).toEqual([]);
    expect([...bridge.down.pending.values()].map((e) => e.payload.toString())).toEqual(["c1", "c2"]);
    expect((await metrics.downlinkQueueFull.get()).values.map((v) => v.value)).toEqual([2]);
  });
});

describe("the downlink queue file", () => {
  const entry = (device: string, p: string) => ({
    device,
    channel: 9,
    qos: 2 as const,
    prio: 0,
    topic: `qn/${device}/cmd`,
    payload: Buffer.from(p),
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  });

  it("replays what is not done, in order, with its trace context; ignores a torn last line; skips a corrupt one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qn-downq-"));
    const path = join(dir, "q.down");
    const q = new DownQueue(path, silent);
    const [e1, e2, e3] = [q.append(entry("a", "one")), q.append(entry("b", "two")), q.append(entry("a", "three"))];
    await q.syncAsync();
    expect([q.count("a"), q.count("b")]).toEqual([2, 1]);
    q.done(e2.seq);
    q.close();
    // A corrupt record in the middle, then a torn one at the end.
    appendFileSync(
      path,
      "{not json\n" + JSON.stringify({ m: 99, d: "a", c: 9, q: 2, r: 0, t: "x", p: b64("lost") }).slice(0, 30),
    );
    const logs: string[] = [];
    const log = pino(
      { level: "warn" },
      {
        write: (s: string) => {
          logs.push(JSON.parse(s).msg);
        },
      },
    );
    const r = new DownQueue(path, log);
    expect([...r.pending.values()].map((e) => [e.seq, e.device, e.payload.toString(), e.traceparent])).toEqual([
      [e1.seq, "a", "one", entry("a", "").traceparent],
      [e3.seq, "a", "three", entry("a", "").traceparent],
    ]);
    expect(logs).toEqual(
      expect.arrayContaining([
        "downlink queue: unreadable record skipped",
        "downlink queue: torn last line ignored (a crash mid-write; that command was never acknowledged)",
      ]),
    );
    expect(existsSync(path + ".corrupt")).toBe(true);
    // New records continue after the highest seq seen; the file is clean again.
    expect(r.append(entry("b", "four")).seq).toBe(e3.seq + 1);
    r.take(e1.seq);
    expect(r.pendingFor("a").map((e) => e.seq)).toEqual([e3.seq]); // taken by a core: not handed out again
    r.done(e1.seq);
    r.done(e3.seq);
    await r.syncAsync();
    r.close();
    expect(new DownQueue(path, silent).pendingFor("b").map((e) => e.payload.toString())).toEqual(["four"]);
  });

  it("counts its size in bytes on disk, whatever script a topic is in", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qn-downq-"));
    const path = join(dir, "q.down");
    const q = new DownQueue(path, silent);
    const seqs = ["Pumpe/Überdruck", "泵/压力", "ascii/only"].map(
      (t) => q.append({ ...entry("a", "p"), topic: t }).seq,
    );
    q.done(seqs[1]);
    await q.syncAsync();
    expect(q.bytes).toBe(statSync(path).size);
    q.close();
  });

  it("is truncated once nothing is pending and it has grown", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qn-downq-"));
    const q = new DownQueue(join(dir, "q.down"), silent);
    const big = "x".repeat(4000);
    const seqs = Array.from({ length: Math.ceil(TRUNCATE_BYTES / 4000) }, () => q.append(entry("a", big)).seq);
    await q.syncAsync();
    expect(q.bytes).toBeGreaterThan(TRUNCATE_BYTES);
    for (const s of seqs) q.done(s);
    await q.syncAsync();
    expect(q.bytes).toBe(0);
    expect(readFileSync(join(dir, "q.down"), "utf8")).toBe("");
    q.close();
  });
});
