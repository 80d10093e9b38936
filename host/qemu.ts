// Launches a board's firmware in QEMU for the selftest, benchmarks and tests:
//
//   const q = await Qemu.start({ elf: "build/mps2-an500/release/qn.elf" });
//   const port = await openSomething(q.pty);   // before the firmware runs
//   await q.cont();                            // now it runs
//   ... q.monitor("xp /1wx 0x20000000") ...
//   await q.stop();                            // always, in finally/afterAll
//
// QEMU starts halted (-S) because it drops UART output written before the
// host opens the pty; the caller opens the port, then cont() lets it run.
// QEMU is killed by pid on stop(), on any start failure, and when this Node
// process exits, so a busy-polling emulator never outlives its test.
import { spawn, type ChildProcess } from "node:child_process";

export interface QemuOptions {
  /** Firmware ELF (loaded with -kernel: SP and PC from its vector table). */
  elf: string;
  /** -icount shift=0: 1 instruction = 1 ns of virtual time, deterministic. */
  icount?: boolean;
  /** Semihosting on (default): fault handlers and qn_port_exit end QEMU. */
  semihosting?: boolean;
  /** Serial backend; "pty" (default) gives `pty`; a file gets every byte
   *  the UART sends, kept when QEMU exits (a pty's unread bytes are not);
   *  a socket is a unix stream socket QEMU listens on (a process that
   *  cannot open a pty master, such as a line-noise relay, connects to it
   *  before cont()); tcp is "host:port" QEMU dials (and redials each second
   *  while the connection is down), a device on a gateway's TCP listener. */
  serial?: "pty" | "null" | { file: string } | { socket: string } | { tcp: string };
  extraArgs?: string[];
  /** How long to wait for QEMU to report its pty and monitor (ms). */
  startTimeoutMs?: number;
}

export interface QemuExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

// The escape sequences (ESC [ ... letter) of the monitor's line editor, which
// monitor() strips from its answers.
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is the point
const ANSI_ESCAPE = /\x1b\[[0-9;]*[A-Za-z]/g;

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function killAll(): void {
  for (const p of live)
    if (p.pid)
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        /* gone */
      }
}

function serialArg(serial: NonNullable<QemuOptions["serial"]>): string {
  if (typeof serial === "string") return serial;
  if ("file" in serial) return `file:${serial.file}`;
  if ("tcp" in serial) return `tcp:${serial.tcp},reconnect=1`;
  // server: QEMU makes the socket; wait=off: it does not block its start on
  // a connection (the machine is halted until cont() anyway).
  return `unix:${serial.socket},server=on,wait=off`;
}

export class Qemu {
  /** /dev/pts/N of the firmware's UART0 (empty with serial "null"). */
  pty = "";
  /** Everything QEMU wrote to stderr (semihosting output, errors). */
  stderr = "";
  readonly exited: Promise<QemuExit>;
  private out = "";
  private outWaiters: Array<() => void> = [];
  private done = false;

  private constructor(
    readonly proc: ChildProcess,
    readonly args: string[],
  ) {
    this.exited = new Promise((resolve) =>
      proc.on("exit", (code, signal) => {
        this.done = true;
        live.delete(proc);
        resolve({ code, signal });
        for (const w of this.outWaiters.splice(0)) w();
      }),
    );
    proc.stdout!.on("data", (d: Buffer) => {
      this.out += d.toString("latin1");
      for (const w of this.outWaiters.splice(0)) w();
    });
    proc.stderr!.on("data", (d: Buffer) => {
      this.stderr += d.toString("latin1");
      for (const w of this.outWaiters.splice(0)) w();
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }
  get running(): boolean {
    return !this.done;
  }

  static async start(opts: QemuOptions): Promise<Qemu> {
    const serial = opts.serial ?? "pty";
    const args = ["-M", "mps2-an500", "-nographic", "-S", "-monitor", "stdio", "-serial", serialArg(serial)];
    if (opts.icount) args.push("-icount", "shift=0");
    if (opts.semihosting ?? true) args.push("-semihosting-config", "enable=on,target=native");
    args.push(...(opts.extraArgs ?? []), "-kernel", opts.elf);
    const proc = spawn("qemu-system-arm", args, { stdio: ["pipe", "pipe", "pipe"] });
    if (!exitHookInstalled) {
      process.on("exit", killAll);
      exitHookInstalled = true;
    }
    live.add(proc);
    const q = new Qemu(proc, args);
    const spawnError = new Promise<never>((_, reject) =>
      proc.on("error", (e) => reject(new Error(`qemu-system-arm: ${e.message}`))),
    );
    spawnError.catch(() => {});
    try {
      await Promise.race([
        spawnError,
        q.waitText(
          () =>
            q.out.includes("(qemu)") && (serial !== "pty" || /redirected to (\/dev\/pts\/\d+)/.test(q.stderr + q.out)),
          opts.startTimeoutMs ?? 10_000,
          "monitor prompt and pty",
        ),
      ]);
      const m = /redirected to (\/dev\/pts\/\d+)/.exec(q.stderr + q.out);
      if (m) q.pty = m[1];
    } catch (e) {
      await q.stop();
      throw e;
    }
    return q;
  }

  private async waitText(ok: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ok()) {
      if (this.done) throw new Error(`QEMU exited while waiting for ${what}: ${this.stderr.trim()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`QEMU: no ${what} within ${timeoutMs} ms (stderr: ${this.stderr.trim()})`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.outWaiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Run a monitor command; returns its output (without echo and prompt). */
  async monitor(cmd: string, timeoutMs = 5000): Promise<string> {
    if (this.done) throw new Error(`QEMU has exited; cannot run "${cmd}"`);
    const start = this.out.length;
    this.proc.stdin!.write(cmd + "\n");
    await this.waitText(() => this.out.indexOf("(qemu)", start) >= 0, timeoutMs, `answer to "${cmd}"`);
    const text = this.out.slice(start, this.out.indexOf("(qemu)", start));
    return text
      .replace(ANSI_ESCAPE, "")
      .split(/\r?\n/)
      .filter((l) => !l.includes(cmd))
      .join("\n")
      .trim();
  }

  /** Let the halted machine run. */
  async cont(): Promise<void> {
    await this.monitor("cont");
  }

  /** Read one 32-bit word of guest memory (physical address). */
  async readWord(addr: number): Promise<number> {
    const text = await this.monitor(`xp /1wx 0x${addr.toString(16)}`);
    const m = /:\s*0x([0-9a-f]+)/i.exec(text);
    if (!m) throw new Error(`QEMU: cannot parse xp output: ${text}`);
    return parseInt(m[1], 16);
  }

  /** Read n 32-bit words of guest memory from addr (physical). */
  async readWords(addr: number, n: number): Promise<number[]> {
    const words: number[] = [];
    for (let done = 0; done < n; ) {
      const k = Math.min(256, n - done);
      const text = await this.monitor(`xp /${k}wx 0x${(addr + done * 4).toString(16)}`);
      for (const line of text.split("\n")) {
        const m = /^[0-9a-f]+:((?:\s+0x[0-9a-f]+)+)/i.exec(line.trim());
        if (m) for (const w of m[1].trim().split(/\s+/)) words.push(parseInt(w, 16));
      }
      done += k;
      if (words.length !== done) throw new Error(`QEMU: short xp output at 0x${(addr + done * 4).toString(16)}`);
    }
    return words;
  }

  /** Kill QEMU (by pid) and wait until it is gone. Safe to call twice. */
  async stop(): Promise<QemuExit> {
    if (!this.done && this.proc.pid)
      try {
        process.kill(this.proc.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    return this.exited;
  }
}
