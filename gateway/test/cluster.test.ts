// A gateway on two worker processes (gateway.workers: 2, cluster.ts),
// run as `qn gateway` is: registry devices on the one fleet listener are
// spread over both workers, the primary's ops API lists them all, sums
// their metrics and sends a revocation to the worker holding the device;
// a worker killed mid-stream is forked again, its devices reconnect and
// their QoS 1 and 2 messages all reach the broker. Every process (the
// primary, each worker pid it reported, mosquitto) is stopped by pid.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { writeFileSync, mkdtempSync, readFileSync } from "node:fs";
import { spawn, type ChildProcess } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { connect, type MqttClient } from "mqtt";
import { ROOT } from "../../host/status.ts";
import { QosStat } from "../../host/abi.ts";
import type { SimDevice } from "../../host/sim-device.ts";
import { Mosquitto, TcpDevice, freePort, sleep, stopByPid, until, writeRegistry } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "qn-cluster-"));
const key = () => Uint8Array.from(randomBytes(32));
const hex = (k: Uint8Array) => Buffer.from(k).toString("hex");
const IDS = ["a", "b", "c", "d"] as const;
/** Messages per device and QoS in the stream a worker dies in. */
const STREAM = 60;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("gateway on two worker processes", () => {
  let broker: Mosquitto, sub: MqttClient, gw: ChildProcess;
  let fleetPort = 0,
    opsPort = 0;
  const keys = Object.fromEntries(IDS.map((id) => [id, key()])) as Record<(typeof IDS)[number], Uint8Array>;
  const devices = new Map<string, TcpDevice>();
  /** Every worker pid the primary reported, to stop by pid at the end. */
  const workerPids = new Set<number>();
  const got = new Map<string, string[]>();
  let stderr = "";

  const api = async (path: string, init: RequestInit = {}) => {
    const token = readFileSync(join(dir, "ops.token"), "utf8").trim();
    const r = await fetch(`http://127.0.0.1:${opsPort}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) },
    });
    return { code: r.status, text: await r.text() };
  };
  const json = async (path: string, init?: RequestInit) => JSON.parse((await api(path, init)).text);
  const health = async () => {
    const h = await json("/health");
    for (const w of h.workers) if (w.pid) workerPids.add(w.pid);
    return h;
  };

  beforeAll(async () => {
    const brokerPort = await freePort();
    fleetPort = await freePort();
    opsPort = await freePort();
    broker = new Mosquitto(brokerPort);
    await broker.start();
    writeRegistry(join(dir, "devices.qnr"), [
      {
        profile: "sensors",
        heartbeat_ms: 1000,
        channels: [
          { channel: 1, topic: "telemetry", qos: 1, direction: "up" },
          { channel: 2, topic: "alarms", qos: 2, direction: "up" },
        ],
      },
      ...IDS.map((id, i) => ({ device: id, key_id: i + 1, key: hex(keys[id]), profile: "sensors" })),
    ]);
    writeFileSync(
      join(dir, "gateway.yaml"),
      `gateway: { workers: 2, log_level: warn, spool: mqtt.spool, ops: { listen: "127.0.0.1:${opsPort}", token_file: ops.token } }
mqtt: { url: "${broker.url}" }
fleet: { listen: "127.0.0.1:${fleetPort}", registry: devices.qnr, journals: journals, handshake_ms: 2000 }
`,
    );
    sub = connect(broker.url, { clientId: "qn-cluster-sub", protocolVersion: 5 });
    sub.on("message", (topic, payload) => {
      const l = got.get(topic) ?? [];
      l.push(payload.toString());
      got.set(topic, l);
    });
    await new Promise<void>((r) => sub.once("connect", () => sub.subscribe("qn/#", { qos: 2 }, () => r())));
    gw = spawn(join(ROOT, "qn"), ["gateway", "--config", join(dir, "gateway.yaml")], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    gw.stderr!.on("data", (b) => {
      stderr += b;
    });
    await until(
      "ops API up",
      () => {
        void api("/health")
          .then((r) => (opsUp = r.code === 200))
          .catch(() => {});
        return opsUp || gw.exitCode !== null;
      },
      60000,
    );
    expect(gw.exitCode, stderr).toBe(null);
  }, 90000);
  let opsUp = false;

  afterAll(async () => {
    for (const d of devices.values()) await d.stop();
    sub?.end(true);
    // The primary stops its workers first (each within WORKER_STOP_MS).
    await stopByPid(gw, "SIGTERM", 15000);
    // Workers the primary did not stop (it was killed): by pid.
    for (const pid of workerPids) if (alive(pid)) process.kill(pid, "SIGKILL");
    await broker?.stop();
  }, 30000);

  it("every device comes up on the one fleet port, spread over both workers; /devices and /metrics cover all", async () => {
    for (const [i, id] of IDS.entries()) {
      const d = new TcpDevice(id, `127.0.0.1:${fleetPort}`, keys[id], undefined, i + 1);
      devices.set(id, d);
      void d.run();
    }
    let list: { id: string; state: string; worker: number }[] = [];
    await until(
      "all links up",
      () => {
        void json("/devices").then((l) => (list = l));
        return IDS.every((id) => devices.get(id)!.up) && list.filter((d) => d.state === "up").length === IDS.length;
      },
      30000,
    );
    expect(list.map((d) => d.id).sort()).toEqual([...IDS]);
    expect(new Set(list.map((d) => d.worker))).toEqual(new Set([0, 1]));
    const h = await health();
    expect(h).toMatchObject({ status: "ok", devices_up: IDS.length });
    expect(h.workers.map((w: { up: boolean }) => w.up)).toEqual([true, true]);
    const metrics = (await api("/metrics")).text;
    expect(metrics).toMatch(new RegExp(`^qn_links\\{state="up"\\} ${IDS.length}$`, "m"));
    for (const id of IDS) expect(metrics).toMatch(new RegExp(`^qn_link_up\\{device="${id}"\\} 1$`, "m"));
  }, 60000);

  it("a registry revocation reaches the worker holding the device", async () => {
    const r = await api("/registry", {
      method: "POST",
      body: JSON.stringify({ records: [{ device: "d", revoke: true }] }),
    });
    expect(r.code, r.text).toBe(200);
    // Applied in both workers (worker 0 wrote it), each saying what it did.
    expect(JSON.parse(r.text).workers).toEqual([
      { worker: 0, applied: ["device d: revoked"] },
      { worker: 1, applied: ["device d: revoked"] },
    ]);
    await until(
      "d cut",
      () => {
        void json("/devices").then((l: { id: string }[]) => (listed = l.some((x) => x.id === "d")));
        return !listed && !devices.get("d")!.up;
      },
      15000,
    );
    // Refused after, by whichever worker it reaches.
    await sleep(1500);
    expect(devices.get("d")!.up).toBe(false);
    const reg: { id: string; revoked: boolean }[] = await json("/registry");
    expect(reg.find((x) => x.id === "d")!.revoked).toBe(true);
    await devices.get("d")!.stop();
    devices.delete("d");
  }, 30000);
  let listed = true;

  it("QoS 1 and 2: nothing lost through a worker being killed; the primary forks it again", async () => {
    const list: { id: string; worker: number }[] = await json("/devices");
    const h0 = await health();
    const victim = list.find((d) => d.id === "a")!.worker;
    const pid = h0.workers[victim].pid as number;
    const streaming = ["a", "b", "c"].map((id) => devices.get(id)!);
    let killed = false;
    /** The QoS 1 messages each device core (one per connection) took, in order. */
    const q1 = new Map<SimDevice, string[]>();
    for (let n = 0; n < STREAM; ) {
      // Every device sends message n at QoS 1 and 2 before n moves on.
      const left = streaming.flatMap((d) => [1, 2].filter((q) => !d.sent[q].includes(n)).map((q) => ({ d, q })));
      for (const { d, q } of left) {
        const sim = d.sim;
        if (d.publish(q, q, n) && q === 1 && sim) q1.set(sim, [...(q1.get(sim) ?? []), `${d.id}:1:${n}`]);
      }
      if (streaming.every((d) => d.sent[1].includes(n) && d.sent[2].includes(n))) n++;
      else await sleep(20);
      if (n === STREAM / 3 && !killed) {
        process.kill(pid, "SIGKILL");
        killed = true;
      }
    }
    expect(killed).toBe(true);
    await until(
      "worker forked again",
      () => {
        void health().then((h) => (restarted = h.workers[victim].restarts === 1 && h.workers[victim].up));
        return restarted;
      },
      60000,
    );
    const missing = () =>
      streaming.flatMap((d) =>
        ([1, 2] as const).flatMap((q) => {
          const have = new Set(got.get(`qn/${d.id}/${q === 1 ? "telemetry" : "alarms"}`));
          return Array.from({ length: STREAM }, (_, n) => `${d.id}:${q}:${n}`).filter((w) => !have.has(w));
        }),
      );
    // The harness's device is a new process (a new core) on every
    // connection and keeps QoS 1 in RAM only: what its old core still had
    // in flight (never acknowledged by the gateway) died with it. Every
    // QoS 1 message the gateway acknowledged must arrive, every QoS 2 one.
    const unacked = new Set<string>();
    for (const d of streaming)
      for (const [sim, sent] of q1)
        if (sim !== d.sim && sent[0]?.startsWith(`${d.id}:`)) {
          const q2Open = sim.core.qosStat(QosStat.Q2_NEXT) - 1 - sim.core.qosStat(QosStat.Q2_DONE);
          const k = Math.max(0, sim.core.qosStat(QosStat.IN_FLIGHT) - q2Open);
          for (const m of sent.slice(sent.length - k)) unacked.add(m);
        }
    const lost = () => missing().filter((m) => !unacked.has(m));
    await until("every acknowledged message at the broker", () => lost().length === 0, 60000).catch(() => {});
    expect(lost()).toEqual([]);
    expect(missing().filter((m) => m.includes(":2:"))).toEqual([]);
    expect(alive(pid)).toBe(false);
    const h = await health();
    expect(h.workers.every((w: { up: boolean }) => w.up)).toBe(true);
    expect(h.devices_up).toBe(3);
  }, 180000);
  let restarted = false;
});
