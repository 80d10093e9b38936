// The gateway a benchmark measures, as its own process (`qn gateway -c
// <config>`), so its CPU can be read from /proc apart from the load
// generator's; the benchmark stops it by its pid on every exit path.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../host/status.ts";
import { stopByPid } from "../gateway/test/helpers.ts";

export interface GatewayProcOptions {
  /** Node / V8 flags before the gateway's own (profiling, experiments). */
  nodeArgs?: string[];
  /** The gateway's stdout (its log) appended to this file; dropped when none. */
  log?: string;
}

export class GatewayProc {
  proc?: ChildProcess;
  stderr = "";
  constructor(
    readonly config: string,
    private readonly opts: GatewayProcOptions = {},
  ) {}

  /** The process id; only once started. */
  get pid(): number {
    const pid = this.proc?.pid;
    if (pid === undefined) throw new Error(`gateway ${this.config} is not running`);
    return pid;
  }

  start(): void {
    const log = this.opts.log;
    this.proc = spawn(
      process.execPath,
      [...(this.opts.nodeArgs ?? []), "--import", "tsx", join(ROOT, "gateway/cli-qn.ts"), "gateway", "-c", this.config],
      { cwd: ROOT, stdio: ["ignore", log ? "pipe" : "ignore", "pipe"] },
    );
    if (log) this.proc.stdout!.pipe(createWriteStream(log, { flags: "a" }));
    this.proc.stderr!.on("data", (b) => {
      this.stderr += b;
    });
  }

  /** Stop it (SIGKILL after 5 s); again, or never started: nothing. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    await stopByPid(this.proc, signal, 5000);
  }
}
