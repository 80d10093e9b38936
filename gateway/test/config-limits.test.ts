// What reading a config may cost (issue 14, defect 6). A key file or a
// config that is /dev/zero, a FIFO or too large is refused at once, naming
// the key and what is wrong, without reading it without end or waiting for
// a writer; a config over the size, YAML token or device limits is refused
// before it is parsed or validated in full; a reload that meets a FIFO
// answers at once and never holds the event loop.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { writeFileSync, mkdtempSync } from "node:fs";
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { ROOT } from "../../host/status.ts";
import { loadConfig, ConfigError, MAX_CONFIG_BYTES, MAX_DEVICES, MAX_YAML_TOKENS } from "../config.ts";
import { MAX_KEY_FILE_BYTES } from "../../host/key-file.ts";
import { Gateway } from "../gateway.ts";
import { freePort, writeDevKey } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "qn-config-limits-"));
const fifo = join(dir, "key.fifo");
const fifoConfig = join(dir, "config.fifo");
/** Writers holding the FIFOs open for a while, so that code that does wait
 *  on one is let go in the end instead of hanging the suite; stopped by pid. */
const writers: ChildProcess[] = [];
function holdOpen(path: string, seconds: number): void {
  writers.push(spawn("bash", ["-c", `exec 3>"${path}"; sleep ${seconds}`], { stdio: "ignore" }));
}
const ports = { mqtt: 0, ops: 0, device: 0 };

/** A config with one device whose key file is `keyFile`. */
function config(keyFile: string, extra = ""): string {
  return `gateway: { spool: mqtt.spool, ops: { listen: "127.0.0.1:${ports.ops}", token_file: ops.token } }
mqtt: { url: "mqtt://127.0.0.1:${ports.mqtt}" }
devices:
  - id: d1
    transport: { tcp: { listen: "127.0.0.1:${ports.device}" } }
    key_file: ${keyFile}
    journal: d1.journal
${extra}`;
}

/** The problems loadConfig refuses `file` with, or "accepted". */
function refusal(file: string): string {
  try {
    loadConfig(file);
    return "accepted";
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.problems.join("\n");
  }
}

/** `qn gateway --config <file>`, killed by pid after `ms`. */
function qnGateway(file: string, ms: number): Promise<{ code: number | string | null; stderr: string; took: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(
      join(ROOT, "qn"),
      ["gateway", "--config", file],
      { timeout: ms, killSignal: "SIGKILL" },
      (err, _o, stderr) => {
        resolve({
          code: err ? ((err as any).killed ? "killed" : ((err as any).code ?? 1)) : 0,
          stderr,
          took: Date.now() - t0,
        });
      },
    );
  });
}

describe("config reads are bounded and never wait on a file", () => {
  beforeAll(async () => {
    for (const k of ["mqtt", "ops", "device"] as const) ports[k] = await freePort();
    writeDevKey(dir);
    execFileSync("mkfifo", [fifo, fifoConfig]);
  });

  afterAll(() => {
    for (const w of writers) if (w.pid && w.exitCode === null) process.kill(w.pid, "SIGKILL");
  });

  it("a key file that is /dev/zero, a FIFO or too large is refused, naming the key", () => {
    writeFileSync(join(dir, "zero.yaml"), config("/dev/zero"));
    expect(refusal(join(dir, "zero.yaml"))).toBe(
      "devices[0].key_file: /dev/zero is a character device, not a key file",
    );
    writeFileSync(join(dir, "fifo.yaml"), config(fifo));
    expect(refusal(join(dir, "fifo.yaml"))).toBe(`devices[0].key_file: ${fifo} is a FIFO (named pipe), not a key file`);
    writeFileSync(join(dir, "big.hex"), "# padding\n".repeat(1000));
    writeFileSync(join(dir, "big.yaml"), config("big.hex"));
    expect(refusal(join(dir, "big.yaml"))).toBe(
      `devices[0].key_file: ${join(dir, "big.hex")} is 10000 bytes: a key file is at most ${MAX_KEY_FILE_BYTES}`,
    );
    writeFileSync(join(dir, "ok.yaml"), config("k.hex"));
    expect(refusal(join(dir, "ok.yaml"))).toBe("accepted");
  });

  it("a config over the size, YAML token or device limits is refused before it is parsed in full", () => {
    // 200 bytes a device: over the size limit with far fewer than 200k devices.
    const device = (i: number) =>
      `  - { id: d${i}, transport: { tcp: { listen: "127.0.0.1:${10000 + (i % 50000)}" } }, key_file: k.hex, journal: j${i}.journal, channels: [{ channel: 1, topic: t, qos: 1, direction: up }] }\n`;
    let big = config("k.hex").replace(/devices:[\s\S]*/, "devices:\n");
    for (let i = 0; big.length <= MAX_CONFIG_BYTES; i++) big += device(i);
    writeFileSync(join(dir, "huge.yaml"), big);
    expect(refusal(join(dir, "huge.yaml"))).toMatch(
      new RegExp(`^cannot read the file: .*huge\\.yaml is \\d+ bytes: a config file is at most ${MAX_CONFIG_BYTES}$`),
    );
    let many = config("k.hex").replace(/devices:[\s\S]*/, "devices:\n");
    for (let i = 0; i < MAX_DEVICES + 1; i++) many += device(i);
    writeFileSync(join(dir, "many.yaml"), many);
    expect(refusal(join(dir, "many.yaml"))).toBe(
      `devices: ${MAX_DEVICES + 1} devices; one gateway serves at most ${MAX_DEVICES} (share them out over more gateways on the same broker)`,
    );
    // Small, but a great many YAML nodes.
    writeFileSync(join(dir, "tokens.yaml"), config("k.hex") + "extra: [" + "1,".repeat(MAX_YAML_TOKENS / 2) + "1]\n");
    expect(refusal(join(dir, "tokens.yaml"))).toMatch(
      new RegExp(`^more than ${MAX_YAML_TOKENS} YAML tokens in the file`),
    );
  }, 60000);

  it("qn gateway with a key file that is a FIFO, or a config that is /dev/zero or a FIFO, exits 2 at once with the reason", async () => {
    writeFileSync(join(dir, "cli-fifo.yaml"), config(fifo));
    holdOpen(fifo, 15);
    holdOpen(fifoConfig, 40);
    const results = {
      keyFifo: await qnGateway(join(dir, "cli-fifo.yaml"), 10000),
      configZero: await qnGateway("/dev/zero", 10000),
      configFifo: await qnGateway(fifoConfig, 10000),
    };
    console.log(
      `config limits test: ${Object.entries(results)
        .map(([k, r]) => `${k} exit ${r.code} after ${r.took} ms`)
        .join(", ")}`,
    );
    expect(results.keyFifo.code).toBe(2);
    expect(results.keyFifo.stderr).toContain(`devices[0].key_file: ${fifo} is a FIFO (named pipe), not a key file`);
    expect(results.configZero.code).toBe(2);
    expect(results.configZero.stderr).toContain(
      "cannot read the file: /dev/zero is a character device, not a config file",
    );
    expect(results.configFifo.code).toBe(2);
    expect(results.configFifo.stderr).toContain(
      `cannot read the file: ${fifoConfig} is a FIFO (named pipe), not a config file`,
    );
  }, 60000);

  it("a reload that meets a FIFO as a key file is refused at once; the event loop never waits on it", async () => {
    const file = join(dir, "reload.yaml");
    writeFileSync(file, config("k.hex"));
    const gw = Gateway.fromFile(file, { log: pino({ level: "silent" }) });
    try {
      await gw.start({ ops: false });
      writeFileSync(file, config(fifo));
      holdOpen(fifo, 5);
      // The longest the event loop went without running a 10 ms timer.
      let last = Date.now(),
        worst = 0;
      const tick = setInterval(() => {
        const now = Date.now();
        worst = Math.max(worst, now - last);
        last = now;
      }, 10);
      const r = await gw.reload();
      await new Promise((res) => setTimeout(res, 50));
      clearInterval(tick);
      worst = Math.max(worst, Date.now() - last);
      expect(r.ok).toBe(false);
      expect(r.errors).toEqual([`devices[0].key_file: ${fifo} is a FIFO (named pipe), not a key file`]);
      expect(worst).toBeLessThan(1000);
    } finally {
      await gw.stop();
    }
  }, 60000);
});
