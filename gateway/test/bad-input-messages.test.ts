// Bad input gets a message that says what is wrong with which key, not an
// internal error (issue 14, defect 7): a device id in an ops path that is
// not valid percent-encoding is a 400; YAML nested thousands deep is refused
// for its depth, with where, instead of "Maximum call stack size exceeded";
// `journal: /dev/zero` and a spool that is a directory are refused naming
// their key (`qn gateway` exits 2 at once) instead of EINVAL from ftruncate
// or EISDIR after "starting empty".
import { describe, it, expect, beforeAll } from "vitest";
import { writeFileSync, readFileSync, mkdtempSync, mkdirSync } from "node:fs";
import { execFile } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { ROOT } from "../../host/status.ts";
import { loadConfig, ConfigError } from "../config.ts";
import { Gateway } from "../gateway.ts";
import { FileStorage } from "../../host/storage.ts";
import { freePort, writeDevKey } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "qn-bad-input-"));
const ports = { mqtt: 0, ops: 0, device: 0 };

function config(o: { journal?: string; spool?: string; extra?: string } = {}): string {
  return `gateway: { spool: ${o.spool ?? "mqtt.spool"}, ops: { listen: "127.0.0.1:${ports.ops}", token_file: ops.token } }
mqtt: { url: "mqtt://127.0.0.1:${ports.mqtt}" }
devices:
  - id: d1
    transport: { tcp: { listen: "127.0.0.1:${ports.device}" } }
    key_file: k.hex
    journal: ${o.journal ?? "d1.journal"}
${o.extra ?? ""}`;
}

function refusal(text: string, name = "c.yaml"): string {
  writeFileSync(join(dir, name), text);
  try {
    loadConfig(join(dir, name));
    return "accepted";
  } catch (e) {
    if (!(e instanceof ConfigError)) return `not a ConfigError: ${(e as Error).message.split("\n")[0]}`;
    return e.problems.join("\n");
  }
}

describe("bad input is told by key and reason", () => {
  beforeAll(async () => {
    for (const k of ["mqtt", "ops", "device"] as const) ports[k] = await freePort();
    writeDevKey(dir);
  });

  it("a device id that is not valid percent-encoding in an ops path is a 400", async () => {
    writeFileSync(join(dir, "gateway.yaml"), config());
    const gw = Gateway.fromFile(join(dir, "gateway.yaml"), { log: pino({ level: "silent" }) });
    await gw.start();
    try {
      const token = readFileSync(join(dir, "ops.token"), "utf8").trim();
      const get = (p: string) =>
        fetch(`http://127.0.0.1:${ports.ops}${p}`, { headers: { authorization: `Bearer ${token}` } });
      const r = await get("/devices/%E0%A4%A/log");
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: string }).error).toBe(
        "the device id in the path is not valid percent-encoded UTF-8",
      );
      expect((await get("/devices/nobody/log")).status).toBe(404);
    } finally {
      await gw.stop();
    }
  });

  it("YAML nested thousands deep is refused for its depth, saying where", () => {
    const flow = refusal(config() + "extra: " + "[".repeat(20000) + "]".repeat(20000) + "\n");
    const block = refusal(config() + "extra:\n  - " + "- ".repeat(20000) + "x\n");
    const indented = refusal(
      config() + Array.from({ length: 1400 }, (_, i) => " ".repeat(i) + "a:").join("\n") + " x\n",
    );
    console.log(`bad input test: ${flow} | ${block} | ${indented}`);
    for (const r of [flow, block, indented])
      expect(r).toMatch(
        /^YAML nested more than 32 levels deep \(at line \d+, column \d+\); a gateway config nests at most 5$/,
      );
    expect(flow).toContain("at line 8, column ");
    // Deep but within the limit: an unknown key, as any other.
    expect(refusal(config() + "extra: " + "[".repeat(30) + "]".repeat(30) + "\n")).toBe(
      '(top level): unknown key(s) "extra"',
    );
  });

  it("journal: /dev/zero and a spool that is a directory are refused naming the key; qn gateway exits 2 at once", async () => {
    expect(refusal(config({ journal: "/dev/zero" }))).toBe(
      "devices[0].journal: /dev/zero is a character device, not a journal file",
    );
    expect(() => new FileStorage("/dev/zero", 65536)).toThrow("/dev/zero is a character device, not a storage file");
    mkdirSync(join(dir, "spool-dir"));
    writeFileSync(join(dir, "spool-dir.yaml"), config({ spool: "spool-dir" }));
    expect(refusal(config({ spool: "spool-dir" }))).toBe(
      `gateway.spool: ${join(dir, "spool-dir")} is a directory, not a spool file`,
    );
    const res = await new Promise<{ code: number | string | null; stderr: string }>((resolve) => {
      execFile(
        join(ROOT, "qn"),
        ["gateway", "--config", join(dir, "spool-dir.yaml")],
        { timeout: 20000, killSignal: "SIGKILL" },
        (err, _o, stderr) => {
          resolve({
            code: err ? ((err as { killed?: boolean }).killed ? "killed" : ((err as { code?: number }).code ?? 1)) : 0,
            stderr,
          });
        },
      );
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`gateway.spool: ${join(dir, "spool-dir")} is a directory, not a spool file`);
    expect(res.stderr).not.toContain("starting empty");
  }, 30000);
});
