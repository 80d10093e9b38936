// A fleet of emulated devices on one gateway's fleet listener (issue 18):
// the registry they are in, the gateway's fleet: section, and the devices.
// Each device is host/sim-device.ts (the firmware's core, a server session
// with its own key and key id, its journal in memory), all of them
// instances of one compiled module driven by the process's one scheduler,
// each with its own TCP connection. They dial in a storm (spread over a
// window) and redial with jittered backoff when their connection closes.
// Used by bench/scale.ts and by the thin load of bench/gateway.ts.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createHmac } from "node:crypto";
import { connect as netConnect } from "node:net";
import { SimDevice } from "../host/sim-device.ts";
import { TcpTransport } from "../host/transport/tcp.ts";
import { SessionStat } from "../host/abi.ts";
import { portOpen, sleep, writeRegistry as writeRegistryFile } from "../gateway/test/helpers.ts";
import type { GatewayProc } from "./gateway-proc.ts";

/** The heartbeat of a fleet's profile: the white paper's. */
export const FLEET_HEARTBEAT_MS = 30_000;
/** fleet.handshake_pool of the gateway, unless a benchmark says otherwise. */
export const HANDSHAKE_POOL = 64;
/** A storm of n devices dials within this many seconds. */
export const STORM_S = (n: number) => Math.min(30, Math.max(1, n / 400));
const CONNECT_TIMEOUT_MS = 3000;

/** Device i's key (its key id is i + 1). */
export const fleetKey = (i: number) =>
  createHmac("sha256", "qn-bench-scale").update(String(i)).digest().subarray(0, 32);

export interface Profile {
  profile: string;
  heartbeat_ms: number;
  channels: { channel: number; topic: string; qos: number; direction: "up" | "down" }[];
}

/** devices.qnr in `dir`: `profile`, and devices d0 .. d<n-1> on it. */
export function writeRegistry(dir: string, n: number, profile: Profile): void {
  const devices = Array.from({ length: n }, (_, i) => ({
    device: `d${i}`,
    key_id: i + 1,
    key: fleetKey(i).toString("hex"),
    profile: profile.profile,
  }));
  writeRegistryFile(join(dir, "devices.qnr"), [profile, ...devices]);
}

/** The gateway config's fleet: section, its files beside the config. */
/** The fleet: section; QN_BENCH_JOURNAL_PACK=0 gives each device a journal
 *  file of its own (fleet.journal_pack: false), for comparison. */
export const fleetSection = (port: number, pool: number) =>
  `fleet: { listen: "127.0.0.1:${port}", registry: devices.qnr, journals: journals, handshake_pool: ${pool}, handshake_ms: 10000${process.env.QN_BENCH_JOURNAL_PACK === "0" ? ", journal_pack: false" : ""} }\n`;

/** Wait until the gateway (its config in `dir`) listens on its fleet port
 *  and has written its ops token (the ops API may start after the fleet
 *  port opens); the token. */
export async function fleetOpen(gw: GatewayProc, dir: string, port: number): Promise<string> {
  const t0 = performance.now();
  while (!(await portOpen(port)) || !existsSync(join(dir, "ops.token"))) {
    if (gw.proc!.exitCode !== null) throw new Error(`gateway exited: ${gw.stderr}`);
    if (performance.now() - t0 > 60_000) throw new Error("gateway did not open its fleet port");
    await sleep(50);
  }
  return readFileSync(join(dir, "ops.token"), "utf8").trim();
}

/** An emulated device: dials, runs a SimDevice on the connection, redials
 *  with jittered backoff when it closes. */
export class Device {
  sim?: SimDevice;
  t?: TcpTransport;
  dialedAt = 0;
  upAt = 0;
  handshakesMs: number[] = [];
  wasUp = false;
  downs = 0;
  private stopped = false;
  private backoff = 200;
  /** `onData` hears every byte the device receives (a driver's wake-up). */
  constructor(
    readonly i: number,
    readonly port: number,
    private readonly onData?: () => void,
  ) {}

  dial(): void {
    if (this.stopped) return;
    this.dialedAt = performance.now();
    let over = false;
    const again = () => {
      if (over) return;
      over = true;
      this.redial();
    };
    const s = netConnect(this.port, "127.0.0.1");
    // A device gives up on a connection attempt after a while (its SYN may
    // sit in TCP's own retries for minutes) and dials again.
    s.setTimeout(CONNECT_TIMEOUT_MS, () => s.destroy());
    s.once("connect", () => {
      s.setTimeout(0);
      const t = new TcpTransport(s, `dev${this.i}`);
      this.t = t;
      if (this.onData) t.onData(this.onData);
      // The same device on a new connection: its core keeps running (and
      // no Wasm instance is left to the GC per redial).
      if (this.sim) this.sim.rebind(t);
      else this.sim = new SimDevice(t, { key: fleetKey(this.i), auth: 2, keyId: this.i + 1 });
      this.sessionsAtDial = this.sessionsUp();
      t.onClose(again);
    });
    s.once("error", again);
    s.once("close", again);
  }

  private sessionsAtDial = 0;
  private sessionsUp(): number {
    return this.sim ? Number(this.sim.core.sessionStat(SessionStat.SESSIONS_UP)) : 0;
  }

  private redial(): void {
    if (this.stopped) return;
    if (this.wasUp) this.downs++;
    this.wasUp = false;
    this.sessionsAtDial = Number.MAX_SAFE_INTEGER; // not up until the next connection's session is
    const wait = this.backoff / 2 + Math.random() * (this.backoff / 2);
    this.backoff = Math.min(this.backoff * 2, 5000);
    setTimeout(() => this.dial(), wait);
  }

  /** Polled: notes the moment the session came up. */
  poll(): boolean {
    const up = !!this.sim && this.sim.core.sessionUp() && this.sessionsUp() > this.sessionsAtDial;
    if (up && !this.wasUp) {
      this.upAt = performance.now();
      this.handshakesMs.push(this.upAt - this.dialedAt);
      this.backoff = 200;
    }
    if (!up && this.wasUp) this.downs++;
    this.wasUp = up;
    return up;
  }

  stop(): void {
    this.stopped = true;
    this.sim?.close();
    void this.t?.close();
  }
}

/** Devices 0 .. n-1 of the registry, dialing `port` spread evenly over `stormMs`. */
export function dialFleet(n: number, port: number, stormMs: number, onData?: () => void): Device[] {
  const devs: Device[] = [];
  for (let i = 0; i < n; i++) {
    const d = new Device(i, port, onData);
    devs.push(d);
    setTimeout(() => d.dial(), (i / n) * stormMs);
  }
  return devs;
}

/** Poll until every device's session is up (true), or `timeoutMs` (false, said on stderr). */
export async function allUp(devs: Device[], timeoutMs: number): Promise<boolean> {
  const t0 = performance.now();
  for (;;) {
    let n = 0;
    for (const d of devs) if (d.poll()) n++;
    if (n === devs.length) return true;
    if (performance.now() - t0 > timeoutMs) {
      process.stderr.write(`fleet: ${n}/${devs.length} up after ${timeoutMs} ms\n`);
      return false;
    }
    await sleep(50);
  }
}
