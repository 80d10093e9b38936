// `qnctl selftest <device>` through a running gateway: every one of the 17
// checks is in the report, those that can run over the live link ran and
// passed, the others are SKIP with the reason; the report validates against
// qn_selftest's schema; the device's traffic goes on meanwhile with nothing
// lost and no session dropped; bad requests get a clear 400 / 404.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { writeFileSync, readFileSync, mkdtempSync } from "node:fs";
import { execFile } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { connect, type MqttClient } from "mqtt";
import { ROOT } from "../../host/status.ts";
import { CHECKS } from "../../selftest/checks.ts";
import { validateReport } from "../../selftest/test/schema.ts";
import { Gateway } from "../gateway.ts";
import { LIVE_SKIPS, type liveSelftest } from "../selftest-live.ts";
import { startDevice, Mosquitto, type TcpDevice, freePort, sleep, until, writeDevKey } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "qn-selftest-"));
const cfg = join(dir, "gateway.yaml");

describe("qnctl selftest over the gateway's live link", () => {
  let broker: Mosquitto, gw: Gateway, dev: TcpDevice, sub: MqttClient;
  let opsPort = 0;
  const got = new Set<string>();

  beforeAll(async () => {
    const ports = { broker: await freePort(), ops: await freePort(), dev: await freePort() };
    opsPort = ports.ops;
    broker = new Mosquitto(ports.broker);
    await broker.start();
    writeDevKey(dir);
    writeFileSync(
      cfg,
      `gateway:
  ops: { listen: "127.0.0.1:${ports.ops}", token_file: ops.token }
  spool: mqtt.spool
mqtt: { url: "${broker.url}" }
devices:
  - id: dev1
    transport: { tcp: { listen: "127.0.0.1:${ports.dev}" } }
    key_file: k.hex
    journal: dev1.journal
    heartbeat_ms: 200
    channels:
      - { channel: 1, topic: telemetry, qos: 1, direction: up }
`,
    );
    gw = Gateway.fromFile(cfg, { log: pino({ level: "silent" }) });
    await gw.start();
    sub = connect(broker.url, { clientId: "qn-selftest-sub", reconnectPeriod: 200 });
    sub.on("message", (_t, p) => got.add(p.toString()));
    await new Promise<void>((r) => sub.once("connect", () => sub.subscribe("qn/#", { qos: 1 }, () => r())));
    dev = await startDevice(gw, "dev1", ports.dev, join(dir, "k.hex"));
  }, 30000);

  afterAll(async () => {
    await dev?.stop();
    await gw?.stop();
    sub?.end(true);
    await broker?.stop();
  });

  const qnctl = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(join(ROOT, "qnctl"), ["-c", cfg, ...args], { timeout: 120000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as any).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const token = () => readFileSync(join(dir, "ops.token"), "utf8").trim();
  const post = (path: string) =>
    fetch(`http://127.0.0.1:${opsPort}${path}`, { method: "POST", headers: { authorization: `Bearer ${token()}` } });

  it("runs every check the live link allows, skips the rest with the reason, while the device's traffic goes on", async () => {
    const session = gw.links.get("dev1")!.sessionId;
    let producing = true;
    const sent: string[] = [];
    const producer = (async () => {
      for (let n = 0; producing; ) {
        const body = `during-selftest-${n}`;
        if (dev.publishBody(1, 1, Buffer.from(body)) > 0) {
          sent.push(body);
          n++;
        }
        await sleep(5);
      }
    })();
    const res = await post("/devices/dev1/selftest");
    producing = false;
    await producer;
    expect(res.status).toBe(200);
    const body = (await res.json()) as Awaited<ReturnType<typeof liveSelftest>>;
    const r = body.report;
    expect(validateReport(r), JSON.stringify(validateReport.errors)).toBe(true);
    expect(r.tests.map((t: any) => t.number)).toEqual(CHECKS.map((c) => c.n)); // all 17, in order
    const by = new Map<string, any>(r.tests.map((t: any) => [t.id, t]));
    // Skipped over the live link, each with its reason.
    for (const [id, why] of Object.entries(LIVE_SKIPS)) {
      expect(by.get(id).status, id).toBe("SKIP");
      expect(by.get(id).detail).toContain(why);
    }
    expect(by.get("link.handshake").metrics.handshake_us).toBeGreaterThan(0);
    // The in-process device has no native stack: the check itself says so.
    expect(by.get("mem.stack")).toMatchObject({ status: "SKIP", detail: expect.stringContaining("no native stack") });
    // Everything else ran on the device and passed.
    const ran = r.tests.filter((t: any) => !(t.id in LIVE_SKIPS) && t.id !== "mem.stack");
    expect(ran.map((t: any) => t.id)).toEqual([
      "boot.identity",
      "core.integrity",
      "mem.pools",
      "ring.buffer",
      "frame.codec",
      "payload.codecs",
      "clock.monotonic",
      "id.generator",
      "link.loopback_latency",
    ]);
    for (const t of ran) expect(t.status, `${t.id}: ${t.detail}`).toBe("PASS");
    expect(r.health_status).toBe("INCOMPLETE");
    expect(body.skipped_why).toMatch(/8 of 17 checks skipped/);
    expect(r.max_latency_us).toBeGreaterThan(0);
    // The device's traffic was not disturbed.
    expect(sent.length).toBeGreaterThan(20);
    await until("traffic at the subscriber", () => sent.every((s) => got.has(s)), 10000);
    expect(gw.links.get("dev1")!.sessionId).toBe(session);
    expect(gw.links.get("dev1")!.state).toBe("up");
  }, 60000);

  it("qnctl prints each check with its status and reason, and exits 0 when nothing failed", async () => {
    const r = await qnctl("selftest", "dev1", "--only", "boot.identity,7,link.reconnect");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^PASS\s+1 boot\.identity/m);
    expect(r.stdout).toMatch(/^PASS\s+7 frame\.codec/m);
    expect(r.stdout).toMatch(/^SKIP\s+16 link\.reconnect\s+not over the gateway's live link: cuts the link/m);
    expect(r.stdout).toMatch(/dev1: health_status INCOMPLETE \(2 passed, 0 failed, 1 skipped\)/);
  }, 60000);

  it("refuses bad requests with a clear status and message", async () => {
    const bad = await post("/devices/dev1/selftest?only=no.such.check");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/unknown check "no.such.check"/);
    const mode = await post("/devices/dev1/selftest?mode=slow");
    expect(mode.status).toBe(400);
    expect(((await mode.json()) as { error: string }).error).toMatch(/mode must be quick or full/);
    expect((await post("/devices/nobody/selftest")).status).toBe(404);
    const usage = await qnctl("selftest", "dev1", "--only", "no.such.check");
    expect(usage.code).toBe(2); // as qn_selftest's usage errors
    expect(usage.stderr).toMatch(/unknown check "no.such.check"/);
    const cli = await qnctl("selftest", "nobody");
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/no device nobody/);
  }, 60000);

  it("qnctl status: ok and exit 0 with the broker up; degraded, the reason and exit 1 while it is down", async () => {
    const up = await qnctl("status");
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/^gateway ok, .*broker connected/);
    await broker.stop();
    try {
      await until("broker seen down", () => gw.health().status === "degraded", 10000);
      const down = await qnctl("status");
      expect(down.code).toBe(1);
      expect(down.stdout).toMatch(/^gateway degraded, .*broker disconnected/);
      expect(down.stdout).toMatch(/the MQTT broker is not connected/);
    } finally {
      await broker.start();
    }
    await until("broker back", () => gw.health().status === "ok", 20000);
    expect((await qnctl("status")).code).toBe(0);
  }, 60000);

  it("qnctl with a token that is not the gateway's says so, for every command, exit 2", async () => {
    const wrong = join(dir, "wrong.token");
    writeFileSync(wrong, "not-the-token\n");
    for (const args of [
      ["status"],
      ["devices"],
      ["log", "dev1"],
      ["reload", cfg],
      ["selftest", "dev1", "--only", "1"],
    ]) {
      const r = await qnctl("--token-file", wrong, ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(/refused the token in .*wrong\.token: missing or wrong bearer token/);
      expect(r.stdout + r.stderr, args.join(" ")).not.toMatch(/undefined|is not a function/);
    }
  }, 60000);
});
