// HAProxy (Debian's haproxy) in TCP mode in front of gateways' device
// ports, for tests: one frontend port the devices dial, a backend of the
// gateways with TCP health checks, a generated config in a temporary
// folder, and the admin socket to read what it thinks of each server.
// Started in the foreground (-db), so the process spawned is HAProxy
// itself, stopped by its pid.
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, portOpen, requireBinary, stopByPid, until } from "./helpers.ts";

/** Health check interval: two failed checks (fall 2) take a dead gateway
 *  out within about half a second. */
export const CHECK_INTER_MS = 250;

const BACKEND = "qn_gateways";

/** The config: `servers` are name -> device port on 127.0.0.1. Links are
 *  long-lived, so the gateway with the fewest takes a new one (leastconn);
 *  a device's address sticks to the gateway it got (stick table), so a
 *  device that reconnects returns to it rather than moving. A connection
 *  refused by a server is retried on another one (redispatch on every
 *  retry, persistence broken), so a device that dials before the checks
 *  have marked a dead gateway down still lands on a live one, and its
 *  address then sticks to that one. */
export function haproxyConfig(port: number, servers: Map<string, number>, socket: string): string {
  return [
    "global",
    "    nbthread 1",
    `    stats socket ${socket} mode 600 level admin`,
    "defaults",
    "    mode tcp",
    "    timeout connect 2s",
    "    timeout client 5m",
    "    timeout server 5m",
    "    retries 3",
    "    option redispatch 1",
    "frontend qn_devices",
    `    bind 127.0.0.1:${port}`,
    `    default_backend ${BACKEND}`,
    `backend ${BACKEND}`,
    "    balance leastconn",
    "    stick-table type ip size 100k expire 1h",
    "    stick on src",
    `    default-server check inter ${CHECK_INTER_MS}ms fall 2 rise 2`,
    ...[...servers].map(([name, p]) => `    server ${name} 127.0.0.1:${p}`),
    "",
  ].join("\n");
}

export class HAProxy {
  proc?: ChildProcess;
  output = "";
  readonly dir = mkdtempSync(join(tmpdir(), "qn-haproxy-"));
  private readonly socket = join(this.dir, "admin.sock");
  private constructor(readonly port: number) {}

  /** Started on a free port, its frontend open and every server UP. */
  static async start(servers: Map<string, number>, timeoutMs: number): Promise<HAProxy> {
    const bin = requireBinary("haproxy");
    const h = new HAProxy(await freePort());
    const config = join(h.dir, "haproxy.cfg");
    writeFileSync(config, haproxyConfig(h.port, servers, h.socket));
    const p = spawn(bin, ["-db", "-f", config], { stdio: ["ignore", "pipe", "pipe"] });
    h.proc = p;
    const keep = (b: Buffer) => {
      h.output = (h.output + b.toString()).slice(-6000);
    };
    p.stdout!.on("data", keep);
    p.stderr!.on("data", keep);
    const up = async () => {
      if (p.exitCode !== null) throw new Error(`haproxy exited with ${p.exitCode}: ${h.output}`);
      if (!(await portOpen(h.port))) return false;
      const s = await h.servers();
      return [...servers.keys()].every((n) => s.get(n) === "UP");
    };
    await until("haproxy listening with every server UP", up, timeoutMs).catch(async (e) => {
      await h.stop();
      throw new Error(`${(e as Error).message}: ${h.output}`);
    });
    return h;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** One command on the admin socket, its answer ("" when the socket does
   *  not answer). */
  command(cmd: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      let out = "";
      const c = connect(this.socket);
      c.once("connect", () => c.write(`${cmd}\n`));
      c.on("data", (b) => {
        out += b.toString();
      });
      c.once("end", () => resolve(out));
      c.once("error", reject);
    }).catch(() => "");
  }

  /** Each backend server's check status as HAProxy has it ("UP", "DOWN",
   *  "UP 1/2" while going down...), from `show stat`. */
  async servers(): Promise<Map<string, string>> {
    const [head, ...rows] = (await this.command("show stat")).split("\n");
    const cols = head.replace(/^# /, "").split(",");
    const [px, sv, st] = ["pxname", "svname", "status"].map((n) => cols.indexOf(n));
    const m = new Map<string, string>();
    for (const r of rows) {
      const f = r.split(",");
      if (f[px] === BACKEND && f[sv] !== "BACKEND") m.set(f[sv], f[st]);
    }
    return m;
  }

  /** The server the stick table sends connections from `src` to. */
  async stuckTo(src: string): Promise<string | undefined> {
    const t = await this.command(`show table ${BACKEND}`);
    const entry = t.split("\n").find((l) => l.includes(` key=${src} `));
    return /server_key=(\S+)/.exec(entry ?? "")?.[1];
  }

  /** Resolves once HAProxy has `server` in state `status`. */
  async waitFor(server: string, status: string, timeoutMs: number): Promise<void> {
    await until(
      `haproxy marking ${server} ${status}`,
      async () => (await this.servers()).get(server) === status,
      timeoutMs,
    );
  }

  async stop(): Promise<void> {
    await stopByPid(this.proc);
  }
}
