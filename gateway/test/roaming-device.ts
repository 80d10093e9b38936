// An emulated device (the in-process core of host/sim-device.ts) with a
// device-side list of gateways: it dials them in turn and, when its
// connection ends, goes on to the next one. It does not reboot when it
// moves: one core, rebound to each new connection, so what it had in
// flight (QoS 1 in RAM, QoS 2 in its journal) is sent again to the gateway
// it moves to, with the packet ids it had.
import { SimDevice } from "../../host/sim-device.ts";
import { tcpConnect, type TcpTransport } from "../../host/transport/tcp.ts";
import { Codec, Prio, type Qos } from "../../host/abi.ts";
import { sleep } from "./helpers.ts";

export class RoamingDevice {
  sim?: SimDevice;
  t?: TcpTransport;
  /** Index in `gateways` of the one dialled last. */
  at = 0;
  connects = 0;
  private stopped = false;
  constructor(
    readonly id: string,
    readonly gateways: string[],
    private readonly key: Uint8Array,
    /** The key id it names in the handshake (a fleet listener's registry). */
    private readonly opts: { keyId?: number } = {},
  ) {}

  async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const t = await tcpConnect(this.gateways[this.at]);
        const closed = new Promise<void>((r) => t.onClose(() => r()));
        this.t = t;
        if (this.sim) this.sim.rebind(t);
        else this.sim = new SimDevice(t, { key: this.key, auth: 2, keyId: this.opts.keyId });
        this.connects++;
        await closed;
      } catch {
        /* this gateway does not answer: the next one */
      }
      if (this.stopped) break;
      this.at = (this.at + 1) % this.gateways.length;
      await sleep(100);
    }
  }

  get up(): boolean {
    return !!this.sim && this.sim.core.sessionUp();
  }

  /** Publish `payload`; the packet id, or a negative status when the core
   *  refuses it (window full, link down): the caller tries again later. */
  publish(channel: number, qos: 1 | 2, payload: Buffer): number {
    const sim = this.sim;
    if (!sim || !this.up) return -1;
    return sim.core.tryPublish(channel, qos as Qos, Prio.BULK, Codec.NONE, payload);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sim?.close();
    await this.t?.close();
  }
}
