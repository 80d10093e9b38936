// The QN paths of the gateway benchmark: a gateway (`qn gateway`, its own
// process, stopped by its pid) and N emulated devices (host/sim-device.ts:
// the firmware's core, auth mode 2, real handshake, session, frame MACs,
// own journal and in-flight window) dialing it, each over its own loopback
// connection: QnPath with a TCP listener per device (the saturated load,
// few devices), FleetPath with all of them on the fleet listener (the thin
// load, a thousand devices).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { SimDevice } from "../host/sim-device.ts";
import { tcpConnect, type TcpTransport } from "../host/transport/tcp.ts";
import { scheduler } from "../host/scheduler.ts";
import { freePort, sleep, until } from "../gateway/test/helpers.ts";
import { Codec, Prio, type Qos } from "../host/abi.ts";
import { GatewayProc } from "./gateway-proc.ts";
import * as fleet from "./fleet.ts";

/** Channel `1 + qos` of every device is mapped up at that QoS to topic `q<qos>`. */
export const channelOf = (qos: number) => 1 + qos;
const CHANNELS: fleet.Profile["channels"] = [0, 1, 2].map((qos) => ({
  channel: channelOf(qos),
  topic: `q${qos}`,
  qos,
  direction: "up",
}));

/** Queue a message on a device at `qos`; false when its window is full. */
function publish(sim: SimDevice, qos: number, payload: Uint8Array): boolean {
  return sim.core.tryPublish(channelOf(qos), qos as Qos, Prio.BULK, Codec.NONE, payload) >= 0;
}

/** Node / V8 flags for the gateway: a CPU profile (QN_BENCH_GW_PROF=<dir>,
 *  250 µs sampling) and experiments' flags (QN_BENCH_GW_NODE_ARGS, not the
 *  product's). */
function gatewayNodeArgs(): string[] {
  const prof = process.env.QN_BENCH_GW_PROF;
  return [
    ...(prof ? ["--cpu-prof", `--cpu-prof-dir=${prof}`, "--cpu-prof-interval=250"] : []),
    ...(process.env.QN_BENCH_GW_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
  ];
}

/** The config's gateway: and mqtt: sections, the same for every gateway of
 *  the benchmark; its files (`name`.spool, ops.token) beside the config. */
/** gateway.workers of the gateways under test (QN_BENCH_WORKERS, default
 *  1): with more, the fleet's devices spread over worker processes, and
 *  the gateway's CPU is every process's. */
export const WORKERS = Number(process.env.QN_BENCH_WORKERS ?? 1);

function gatewayHead(brokerUrl: string, opsPort: number, name: string): string {
  return `gateway:
  ops: { listen: "127.0.0.1:${opsPort}", token_file: ops.token }
  spool: ${name}.spool
  log_level: warn
  workers: ${WORKERS}
mqtt:
  url: "${brokerUrl}"
  topic_prefix: qn
  client_id: qn-bench-${name}
  queue_limit: 10000
  protocol_version: 5
`;
}

function gatewayYaml(brokerUrl: string, opsPort: number, devPorts: number[], name: string): string {
  return `${gatewayHead(brokerUrl, opsPort, name)}devices:
${devPorts
  .map(
    (port, i) => `  - id: dev${i}
    transport: { tcp: { listen: "127.0.0.1:${port}" } }
    key_file: k.hex
    auth: 2
    journal: ${name}-dev${i}.journal
    channels:
${CHANNELS.map((c) => `      - ${JSON.stringify(c)}\n`).join("")}`,
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
    const gw = new GatewayProc(cfg, { nodeArgs: gatewayNodeArgs() });
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
    return publish(this.sims[i], qos, payload);
  }

  /** Send what every device has queued, now. */
  flush(): void {
    for (const d of this.sims) (d as unknown as { step(b: Uint8Array): void }).step(new Uint8Array(0));
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

/** A gateway with `n` devices on its fleet listener (bench/fleet.ts: a
 *  registry of one profile, its heartbeat the fleet's), sessions up; its
 *  files in `dir`/`name`. A gateway serving thousands of devices serves
 *  them there, not on a listener each. */
export class FleetPath {
  private devs: fleet.Device[] = [];
  gw?: GatewayProc;

  constructor(
    private readonly dir: string,
    readonly n: number,
    private readonly name: string,
  ) {}

  /** `onData` hears every byte a device receives (the driver's wake-up). */
  async start(brokerUrl: string, onData?: () => void): Promise<void> {
    const dir = join(this.dir, this.name);
    mkdirSync(dir);
    const ports = new Set<number>();
    while (ports.size < 2) ports.add(await freePort());
    const [opsPort, port] = ports;
    fleet.writeRegistry(dir, this.n, { profile: "bench", heartbeat_ms: fleet.FLEET_HEARTBEAT_MS, channels: CHANNELS });
    const cfg = join(dir, "gateway.yaml");
    writeFileSync(cfg, gatewayHead(brokerUrl, opsPort, this.name) + fleet.fleetSection(port, fleet.HANDSHAKE_POOL));
    const gw = new GatewayProc(cfg, { nodeArgs: gatewayNodeArgs() });
    this.gw = gw;
    gw.start();
    await fleet.fleetOpen(gw, dir, port);
    const storm = fleet.STORM_S(this.n) * 1000;
    this.devs = fleet.dialFleet(this.n, port, storm, onData);
    if (!(await fleet.allUp(this.devs, 120_000 + storm))) throw new Error(`fleet devices not all up: ${gw.stderr}`);
  }

  /** Queue a message on device `i`; false when its window is full or it has no connection. */
  tryPublish(i: number, qos: number, payload: Uint8Array): boolean {
    const sim = this.devs[i].sim;
    return !!sim && publish(sim, qos, payload);
  }

  /** Send what device `i` (every device, without `i`) has queued, at the
   *  scheduler's next turn. */
  flush(i?: number): void {
    for (const d of i === undefined ? this.devs : [this.devs[i]]) if (d.sim) scheduler.wake(d.sim, 0);
  }

  /** Sessions that went down since the devices came up. */
  downs(): number {
    let n = 0;
    for (const d of this.devs) {
      d.poll();
      n += d.downs;
    }
    return n;
  }

  /** Stop the devices and the gateway (again: nothing). */
  async stop(): Promise<void> {
    for (const d of this.devs.splice(0)) d.stop();
    await this.gw?.stop();
  }
}
