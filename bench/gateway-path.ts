// The QN path of the gateway benchmark: a gateway (`qn gateway`, its own
// process, stopped by its pid) configured for N devices on their own TCP
// listeners, and N emulated devices (host/sim-device.ts: the firmware's
// core, auth mode 2, real handshake, session, frame MACs, own journal and
// in-flight window) dialing it, each over its own loopback connection.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { SimDevice } from "../host/sim-device.ts";
import { tcpConnect, type TcpTransport } from "../host/transport/tcp.ts";
import { ROOT } from "../host/status.ts";
import { freePort, sleep, stopByPid, until } from "../gateway/test/helpers.ts";
import { Codec, Prio, type Qos } from "../host/abi.ts";

/** Channel `1 + qos` of every device is mapped up at that QoS to topic `q<qos>`. */
export const channelOf = (qos: number) => 1 + qos;

/** The gateway as its own process (`qn gateway`), stopped by its pid. */
export class GatewayProc {
  proc?: ChildProcess;
  stderr = "";
  constructor(readonly config: string) {}
  get pid(): number | undefined {
    return this.proc?.pid;
  }
  start(): void {
    const prof = process.env.QN_BENCH_GW_PROF;
    this.proc = spawn(
      process.execPath,
      [
        ...(prof ? ["--cpu-prof", `--cpu-prof-dir=${prof}`, "--cpu-prof-interval=250"] : []),
        // Extra Node / V8 flags for the gateway (experiments: not the product's).
        ...(process.env.QN_BENCH_GW_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
        "--import",
        "tsx",
        join(ROOT, "gateway/cli-qn.ts"),
        "gateway",
        "-c",
        this.config,
      ],
      { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] },
    );
    this.proc.stderr!.on("data", (b) => {
      this.stderr += b;
    });
  }
  async stop(): Promise<void> {
    await stopByPid(this.proc);
  }
}

function gatewayYaml(brokerUrl: string, opsPort: number, devPorts: number[], name: string): string {
  return `gateway:
  ops: { listen: "127.0.0.1:${opsPort}", token_file: ops.token }
  spool: ${name}.spool
  log_level: warn
mqtt:
  url: "${brokerUrl}"
  topic_prefix: qn
  client_id: qn-bench-${name}
  queue_limit: 10000
  protocol_version: 5
devices:
${devPorts
  .map(
    (port, i) => `  - id: dev${i}
    transport: { tcp: { listen: "127.0.0.1:${port}" } }
    key_file: k.hex
    auth: 2
    journal: ${name}-dev${i}.journal
    channels:
      - { channel: ${channelOf(0)}, topic: q0, qos: 0, direction: up }
      - { channel: ${channelOf(1)}, topic: q1, qos: 1, direction: up }
      - { channel: ${channelOf(2)}, topic: q2, qos: 2, direction: up }
`,
  )
  .join("")}`;
}

/** A gateway with `n` devices connected to it, sessions up. `dir` holds
 *  k.hex (the devices' key); the gateway's files go there too. */
export class QnPath {
  readonly sims: SimDevice[] = [];
  private readonly socks: TcpTransport[] = [];
  gw?: GatewayProc;

  constructor(
    private readonly dir: string,
    private readonly key: Uint8Array,
    readonly n: number,
    private readonly name: string,
  ) {}

  /** `onData` hears every byte a device receives (the driver's wake-up). */
  async start(brokerUrl: string, onData: () => void): Promise<void> {
    // freePort() may hand out a port twice once it is closed again.
    const ports = new Set<number>();
    while (ports.size < this.n + 1) ports.add(await freePort());
    const [opsPort, ...devPorts] = ports;
    const cfg = join(this.dir, `${this.name}.yaml`);
    writeFileSync(cfg, gatewayYaml(brokerUrl, opsPort, devPorts, this.name));
    const gw = new GatewayProc(cfg);
    this.gw = gw;
    gw.start();
    // Each device dials the gateway (retry until it listens).
    const t1 = performance.now();
    for (const port of devPorts) {
      for (;;) {
        try {
          const t = await tcpConnect(`127.0.0.1:${port}`);
          t.onData(onData);
          this.socks.push(t);
          break;
        } catch {
          if (gw.proc?.exitCode !== null && gw.proc?.exitCode !== undefined)
            throw new Error(`gateway exited ${gw.proc.exitCode}: ${gw.stderr}`);
          if (performance.now() - t1 > 30000) throw new Error(`gateway did not listen: ${gw.stderr}`);
          await sleep(50);
        }
      }
      this.sims.push(new SimDevice(this.socks[this.socks.length - 1], { key: this.key, auth: 2 }));
    }
    for (const [i, d] of this.sims.entries())
      await until(`device ${i} session up (auth 2)`, () => d.core.sessionUp(), 30000);
  }

  /** Queue a message on device `i`; false when its window is full. */
  tryPublish(i: number, qos: number, payload: Uint8Array): boolean {
    return this.sims[i].core.tryPublish(channelOf(qos), qos as Qos, Prio.BULK, Codec.NONE, payload) >= 0;
  }

  /** Send what device `i` (every device when none) has queued. */
  flush(i?: number): void {
    const step = (d: SimDevice) => (d as unknown as { step(b: Uint8Array): void }).step(new Uint8Array(0));
    if (i !== undefined) step(this.sims[i]);
    else for (const d of this.sims) step(d);
  }

  /** Stop the devices and the gateway (again: nothing). */
  async stop(): Promise<void> {
    for (const d of this.sims.splice(0))
      try {
        d.close();
      } catch {
        /* */
      }
    for (const t of this.socks.splice(0))
      try {
        await t.close();
      } catch {
        /* */
      }
    await this.gw?.stop();
  }
}
