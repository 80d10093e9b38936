// qn_selftest end to end as a user runs it: the JSON report against its
// schema, the text output, and the exit status and message for every kind
// of usage and connection error.
import { describe, it, expect } from "vitest";
import { spawnSync, spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../../host/status.ts";
import { validateReport } from "./schema.ts";
import { CHECK_IDS, pinnedStatuses, statuses } from "./pinned.ts";

const BIN = join(ROOT, "qn_selftest");

function run(args: string[], timeout = 120_000) {
  const t0 = Date.now();
  const r = spawnSync(BIN, args, { encoding: "utf8", timeout });
  return { ...r, ms: Date.now() - t0 };
}

describe("qn_selftest --target sim", () => {
  it("full mode: a schema-valid report, 16 checks PASS by id and exactly mem.stack SKIPs", () => {
    const r = run(["--mode=full", "--output=json", "--target", "sim"]);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
    expect(report.tests).toHaveLength(17);
    expect(report.tests.map((t: any) => t.number)).toEqual([...Array(17)].map((_, i) => i + 1));
    // In-process there is no native stack to paint: mem.stack alone SKIPs,
    // with that reason; the other 16 PASS.
    const notPassed = report.tests.filter((t: any) => t.status !== "PASS");
    expect(statuses(report), JSON.stringify(notPassed)).toEqual(pinnedStatuses(["mem.stack"]));
    expect(report.tests.find((t: any) => t.id === "mem.stack").detail).toMatch(
      /in-process target: no native stack to paint/,
    );
    expect(report.summary).toEqual({ passed: 16, failed: 0, skipped: 1 });
    expect(report.health_status).toBe("INCOMPLETE");
    expect(report.max_latency_us).toBeGreaterThan(0);
    // Progress went to stderr, the report alone to stdout.
    expect(r.stderr).toMatch(/\[17\/17\]/);
  });

  it("text mode prints a line per check and the table", () => {
    const r = run(["--mode=quick", "--output=text", "--target=sim", "--only", "boot.identity,7,frame.codec"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[ 1\/2\] {2}1 boot.identity +PASS/);
    expect(r.stderr).toMatch(/\[ 2\/2\] {2}7 frame.codec +PASS/);
    expect(r.stdout).toMatch(/health_status: PASS +\(2 passed, 0 failed, 0 skipped\)/);
  });

  it("--list lists the 17 checks by id, in order", () => {
    const r = run(["--list"]);
    expect(r.status).toBe(0);
    expect(
      r.stdout
        .trim()
        .split("\n")
        .map((l) => l.trim().split(/\s+/)[1]),
    ).toEqual([...CHECK_IDS]);
  });
});

describe("qn_selftest errors", () => {
  it("a missing port: exit 2 and a clear message, within the timeout", () => {
    const r = run(["--port", "/dev/ttyQN_NO_SUCH_PORT", "--timeout", "3", "--output=json"]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/cannot open \/dev\/ttyQN_NO_SUCH_PORT: no such port/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.ms).toBeLessThan(3000 + 3000);
  });

  it("a port where nothing answers: exit 2 after the timeout, saying so", async () => {
    // A pty pair with nobody behind it, held open by a small Python process.
    const holder = spawn("python3", [
      "-c",
      "import pty,os,sys,time\nm,s=pty.openpty()\nprint(os.ttyname(s),flush=True)\ntime.sleep(60)",
    ]);
    try {
      const path = await new Promise<string>((res, rej) => {
        holder.stdout.once("data", (d) => res(d.toString().trim()));
        holder.once("error", rej);
      });
      const r = run(["--port", path, "--timeout", "2", "--output=json"]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/did not answer within 2 s/);
      expect(r.ms).toBeLessThan(2000 + 4000);
    } finally {
      holder.kill("SIGKILL");
    }
  });

  it.each([
    [["--mode=slow"], /--mode must be full or quick/],
    [["--output=xml"], /--output must be text or json/],
    [["--only", "no.such"], /unknown check "no.such"/],
    [["--only", ","], /--only: no check named/],
    [["--only", ""], /--only: no check named/],
    [["--bogus"], /Unknown option '--bogus'/],
    [["--target", "serial"], /--target serial needs --port/],
    [["--timeout", "0"], /--timeout must be a positive/],
    [["--target", "qemu", "--platform", "stm32h743"], /only --platform mps2-an500 is emulated/],
    [
      ["--target", "sim", "--platform", "stm32h743"],
      /^qn_selftest: --platform stm32h743, but the device on the sim target reports sim: /,
    ],
  ])("usage error %j: exit 2", (args, msg) => {
    const r = run(args as string[]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(msg as RegExp);
  });
});
