// /metrics by the Prometheus conventions. A real gateway (mosquitto, an
// emulated device over TCP) is scraped through the ops API and the scrape
// is checked with Debian's `promtool check metrics` (types, `_total` on
// counters, help, units) and read back with a small exposition parser for
// what promtool cannot know: the counters are counters, the histograms
// have observations, the deprecated gauges say so. Without processes: the
// fleet mode's bounded device labels, and core counters that stay
// monotonic across a reconnect and a 2^32 wrap.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawnSync } from "node:child_process";
import { writeFileSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { Counter as CoreCounter } from "../../host/frame.ts";
import { ROOT } from "../../host/status.ts";
import type { QnCore } from "../../host/core.ts";
import { Gateway } from "../gateway.ts";
import { createMetrics, CORE_COUNTERS, type LinkSample } from "../metrics.ts";
import { LinkCounters } from "../link-counters.ts";
import { OTHER_DEVICES } from "../config-ops.ts";
import { parseExposition, type Family } from "./exposition.ts";
import { startDevice, Mosquitto, type TcpDevice, freePort, until, writeDevKey } from "./helpers.ts";

const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" });
const PROMTOOL = promtool.status === 0;

describe("metrics of a running gateway", () => {
  const dir = mkdtempSync(join(tmpdir(), "qn-metrics-"));
  let broker: Mosquitto, gw: Gateway, dev: TcpDevice;
  let ops: number;
  const scrape = async () => {
    const token = readFileSync(join(dir, "ops.token"), "utf8").trim();
    const r = await fetch(`http://127.0.0.1:${ops}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    return r.text();
  };

  beforeAll(async () => {
    const ports = { broker: await freePort(), ops: await freePort(), dev: await freePort() };
    ops = ports.ops;
    broker = new Mosquitto(ports.broker);
    await broker.start();
    writeDevKey(dir);
    writeFileSync(
      join(dir, "gateway.yaml"),
      `gateway:
  ops: { listen: "127.0.0.1:${ports.ops}", token_file: ops.token }
  spool: mqtt.spool
mqtt: { url: "mqtt://127.0.0.1:${ports.broker}", topic_prefix: qn }
devices:
  - id: dev1
    transport: { tcp: { listen: "127.0.0.1:${ports.dev}" } }
    key_file: k.hex
    journal: dev1.journal
    heartbeat_ms: 60000 # a silent device stays connected long enough to fail a probe
    channels:
      - { channel: 1, topic: telemetry, qos: 1, direction: up }
      - { channel: 2, topic: fast, qos: 0, direction: up }
`,
    );
    gw = Gateway.fromFile(join(dir, "gateway.yaml"), { log: pino({ level: "silent" }) });
    await gw.start();
    dev = await startDevice(gw, "dev1", ports.dev, join(dir, "k.hex"));
  }, 30000);

  afterAll(async () => {
    await dev?.stop();
    await gw?.stop();
    await broker?.stop();
  });

  it("exports counters, gauges and histograms that promtool accepts, with the right types", async () => {
    for (let i = 0; i < 5; i++) dev.publish(1, 1);
    dev.publish(2, 0);
    const count = async (name: string, labels: Record<string, string> = {}) =>
      parseExposition(await scrape())
        .get(name.replace(/_(count|sum|bucket)$/, ""))
        ?.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .reduce((a, s) => a + s.value, 0) ?? 0;
    // Observations arrive with the broker's acknowledgements and the probe
    // after the session came up: waited for, not slept on.
    const t0 = Date.now();
    while (
      (await count("qn_uplink_latency_seconds_count", { qos: "1" })) < 5 ||
      (await count("qn_probes_total", { result: "ok" })) < 1 ||
      (await count("qn_journal_flush_seconds_count")) < 1
    ) {
      if (Date.now() - t0 > 20000) throw new Error("timed out waiting for the observations");
      await new Promise((r) => setTimeout(r, 100));
    }
    const text = await scrape();
    writeFileSync(join(dir, "scrape.txt"), text);

    if (!PROMTOOL)
      console.warn(
        `promtool not runnable (${promtool.error?.message ?? promtool.stderr}): make deps-debian installs it`,
      );
    else {
      const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
      // promtool prints one line per problem and exits 1 when it found any.
      expect(`${r.stdout}${r.stderr}`.trim()).toBe("");
      expect(r.status).toBe(0);
    }

    const fams = parseExposition(text);
    const type = (n: string) => fams.get(n)?.type;
    for (const [n, f] of fams) {
      if (f.type === "counter") expect(n, `${n} is a counter`).toMatch(/_total$/);
      if (n.endsWith("_total")) expect(f.type, `${n} ends in _total`).toBe("counter");
      expect(f.help, `${n} has help`).not.toBe("");
    }
    for (const c of Object.values(CORE_COUNTERS)) {
      expect(type(c.name)).toBe("counter");
      expect(type(c.old)).toBe("gauge");
      expect(fams.get(c.old)!.help).toMatch(new RegExp(`^DEPRECATED.*${c.name}`));
    }
    expect(value(fams, "qn_frames_in_total", { device: "dev1" })).toBeGreaterThanOrEqual(6);
    for (const h of ["qn_uplink_latency_seconds", "qn_handshake_seconds", "qn_journal_flush_seconds", "qn_rtt_seconds"])
      expect(type(h), h).toBe("histogram");
    expect(value(fams, "qn_uplink_latency_seconds_count", { qos: "1" })).toBeGreaterThanOrEqual(5);
    expect(value(fams, "qn_uplink_latency_seconds_bucket", { qos: "1", le: "+Inf" })).toBe(
      value(fams, "qn_uplink_latency_seconds_count", { qos: "1" }),
    );
    expect(value(fams, "qn_handshake_seconds_count", { resumed: "false" })).toBeGreaterThanOrEqual(1);
    expect(value(fams, "qn_link_breaker_state", { device: "dev1", state: "closed" })).toBe(1);
    expect(value(fams, "qn_link_breaker_state", { device: "dev1", state: "open" })).toBe(0);
    expect(value(fams, "qn_links", { state: "up" })).toBe(1);
    expect(value(fams, "qn_link_up", { device: "dev1" })).toBe(1);
  }, 40000);

  it("counts a failed probe of a silent device, opens the breaker and counts the link down when it goes away", async () => {
    const failed = async () =>
      parseExposition(await scrape())
        .get("qn_probes_total")!
        .samples.filter((x) => x.labels.device === "dev1" && x.labels.result === "failed")
        .reduce((a, x) => a + x.value, 0);
    const before = await failed();
    // Connected but answering nothing: the next probe (every 5 s) times out.
    dev.halt();
    const t0 = Date.now();
    while ((await failed()) <= before) {
      if (Date.now() - t0 > 20000) throw new Error("timed out waiting for a failed probe");
      await new Promise((r) => setTimeout(r, 200));
    }
    await dev.stop();
    await until("link down", () => gw.links.get("dev1")!.state !== "up", 15000);
    const fams = parseExposition(await scrape());
    expect(value(fams, "qn_link_breaker_state", { device: "dev1", state: "closed" })).toBe(0);
    expect(value(fams, "qn_link_up", { device: "dev1" })).toBe(0);
    expect(value(fams, "qn_link_down_total", { device: "dev1" })).toBeGreaterThanOrEqual(1);
  }, 45000);
});

function value(fams: Map<string, Family>, sample: string, labels: Record<string, string>): number {
  const fam = fams.get(sample) ?? fams.get(sample.replace(/_(count|sum|bucket)$/, ""));
  const s = fam?.samples.find((x) => x.name === sample && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  if (!s) throw new Error(`no sample ${sample}${JSON.stringify(labels)}`);
  return s.value;
}

describe("fleet mode", () => {
  const sample = (id: string, up: boolean): LinkSample => ({
    id,
    state: up ? "up" : "waiting",
    up,
    breaker: up ? "closed" : "open",
    journalBytes: 100,
    qosInFlight: 1,
  });

  it("keeps per-device series for the allow-list only and sums the others under (others)", async () => {
    const m = createMetrics({ per_device: false, device_allow: ["a"] });
    m.setLinkSource(() => [sample("a", true), sample("b", true), sample("c", false), sample("d", true)]);
    for (const id of ["a", "b", "c", "d"]) m.uplinkCell(id, 1).n++;
    const fams = parseExposition(await m.registry.metrics());
    const devices = new Set<string>();
    for (const f of fams.values()) for (const s of f.samples) if (s.labels.device) devices.add(s.labels.device);
    expect([...devices].sort()).toEqual([OTHER_DEVICES, "a"].sort());
    expect(value(fams, "qn_link_up", { device: OTHER_DEVICES })).toBe(2);
    expect(value(fams, "qn_link_up", { device: "a" })).toBe(1);
    expect(value(fams, "qn_uplink_messages_total", { device: OTHER_DEVICES, qos: "1" })).toBe(3);
    expect(value(fams, "qn_journal_bytes", { device: OTHER_DEVICES })).toBe(300);
    expect(value(fams, "qn_link_breaker_state", { device: OTHER_DEVICES, state: "open" })).toBe(1);
    // Aggregates are there in either mode.
    expect(value(fams, "qn_links", { state: "up" })).toBe(3);
    expect(value(fams, "qn_links", { state: "waiting" })).toBe(1);
  });

  it("every device label the gateway sets goes through the fleet fold", () => {
    const bad: string[] = [];
    for (const f of readdirSync(join(ROOT, "gateway")).filter((n) => n.endsWith(".ts"))) {
      const src = readFileSync(join(ROOT, "gateway", f), "utf8");
      for (const m of src.matchAll(/metrics\.\w+\.(?:inc|set|observe)\(\{([^}]*)\}/g))
        if (/\bdevice:/.test(m[1]) && !/\bdevice: (?:this\.|env\.)*metrics\.device\(/.test(m[1]))
          bad.push(`${f}: ${m[0]}`);
    }
    expect(bad).toEqual([]);
  });

  it("reads the queue depth and the spool size at scrape time", async () => {
    const m = createMetrics();
    let depth = 7;
    m.setQueueSource(() => ({ depth, spoolBytes: 4096 }));
    let fams = parseExposition(await m.registry.metrics());
    expect(value(fams, "qn_broker_queue_depth", {})).toBe(7);
    expect(value(fams, "qn_spool_bytes", {})).toBe(4096);
    depth = 0;
    fams = parseExposition(await m.registry.metrics());
    expect(value(fams, "qn_broker_queue_depth", {})).toBe(0);
  });

  it("gives every device its own series by default", async () => {
    const m = createMetrics();
    m.setLinkSource(() => [sample("a", true), sample("b", false)]);
    const fams = parseExposition(await m.registry.metrics());
    expect(value(fams, "qn_link_up", { device: "b" })).toBe(0);
    expect(() => value(fams, "qn_link_up", { device: OTHER_DEVICES })).toThrow();
  });
});

describe("core counters as Prometheus counters", () => {
  const fakeCore = (frames: number) =>
    ({ counter: (id: number) => (id === CoreCounter.FRAMES_IN ? frames : 0) }) as unknown as QnCore;
  const frames = async (m: ReturnType<typeof createMetrics>) => (await m.core.framesIn.get()).values[0]?.value ?? 0;

  it("only grow: a new core (reconnect) adds from 0, a wrap at 2^32 adds the difference", async () => {
    const m = createMetrics();
    const c = new LinkCounters(m, "a");
    c.read(fakeCore(10));
    expect(await frames(m)).toBe(10);
    c.read(fakeCore(4)); // a new core object: its 4 are new frames
    expect(await frames(m)).toBe(14);
    const core = fakeCore(0xffff_fffe);
    c.read(core);
    expect(await frames(m)).toBe(14 + 0xffff_fffe);
    (core as unknown as { counter: (id: number) => number }).counter = () => 3; // wrapped: 5 more
    c.read(core);
    expect(await frames(m)).toBe(14 + 0xffff_fffe + 5);
    expect(c.last?.framesIn).toBe(3);
  });
});
