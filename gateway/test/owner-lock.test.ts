// One gateway per spool and journal: a second process on the same files is
// refused, naming the owner; a lock whose owner is gone is taken over; in
// one process a later holder takes over and an abandoned one cannot remove
// its lock. Every process started here is stopped by its pid.
import { describe, it, expect } from "vitest";
import { mkdtempSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OwnerLock, OwnerLockError } from "../../host/owner-lock.ts";
import { ROOT } from "../../host/status.ts";
import { freePort, until, writeDevKey } from "./helpers.ts";

const stopByPid = (c: ChildProcess) =>
  new Promise<void>((r) => {
    if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return r();
    c.once("exit", () => r());
    process.kill(c.pid, "SIGKILL");
  });

describe("owner lock", () => {
  it("refuses a file another live process owns, and takes it over once that process is gone", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "qn-lock-")), "spool");
    const holder = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "-e",
        `import("${join(ROOT, "host/owner-lock.ts")}").then((m) => { m.OwnerLock.take(${JSON.stringify(path)}, "spool"); console.log("held"); setInterval(() => {}, 1000); })`,
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      await new Promise<void>((r) => holder.stdout!.once("data", () => r()));
      expect(() => OwnerLock.take(path, "spool")).toThrow(OwnerLockError);
      expect(() => OwnerLock.take(path, "spool")).toThrow(
        new RegExp(`spool .*spool is in use by another process \\(pid ${holder.pid}, lock .*spool\\.lock\\)`),
      );
    } finally {
      await stopByPid(holder);
    }
    // Its owner died without releasing it: taken over.
    expect(existsSync(path + ".lock")).toBe(true);
    const mine = OwnerLock.take(path, "spool");
    expect(JSON.parse(readFileSync(path + ".lock", "utf8")).pid).toBe(process.pid);
    mine.release();
    expect(existsSync(path + ".lock")).toBe(false);
  }, 30000);

  it("in one process, a later holder takes over and the abandoned one cannot remove its lock", () => {
    const path = join(mkdtempSync(join(tmpdir(), "qn-lock-")), "journal");
    const abandoned = OwnerLock.take(path, "journal");
    const next = OwnerLock.take(path, "journal");
    abandoned.release();
    expect(existsSync(path + ".lock")).toBe(true);
    next.release();
    expect(existsSync(path + ".lock")).toBe(false);
  });

  it("qn gateway: a second gateway on the same spool exits at once, naming the first one's pid", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qn-lock-gw-"));
    writeDevKey(dir);
    const config = async (name: string) => {
      const f = join(dir, name);
      writeFileSync(
        f,
        `gateway:
  ops: { listen: "127.0.0.1:${await freePort()}", token_file: ${name}.token }
  spool: var/mqtt.spool
  log_level: warn
mqtt: { url: "mqtt://127.0.0.1:${await freePort()}" }
devices:
  - { id: d1, key_file: k.hex, journal: var/${name}.journal, transport: { tcp: { listen: "127.0.0.1:${await freePort()}" } } }
`,
      );
      return f;
    };
    const [a, b] = [await config("a.yaml"), await config("b.yaml")];
    const first = spawn(join(ROOT, "qn"), ["gateway", "--config", a], {
      cwd: dir,
      stdio: ["ignore", "ignore", "pipe"],
    });
    try {
      await until("first gateway holds the spool", () => existsSync(join(dir, "var/mqtt.spool.lock")), 20000);
      const res = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        execFile(join(ROOT, "qn"), ["gateway", "--config", b], { cwd: dir, timeout: 20000 }, (err, _o, stderr) =>
          resolve({ code: err ? ((err as any).code ?? 1) : 0, stderr }),
        );
      });
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(
        `qn gateway: cannot start: spool ${join(dir, "var/mqtt.spool")} is in use by another process (pid ${first.pid}`,
      );
      expect(first.exitCode).toBe(null); // the first one runs on
    } finally {
      await stopByPid(first);
    }
  }, 60000);
});
