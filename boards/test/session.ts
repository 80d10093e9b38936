// An authenticated session with the firmware over a FramePort: the host
// loader (host/core.ts) runs the same core as a client with the firmware's
// key, and this pumps bytes both ways and ticks its clock. Everything the
// client core hands its application lands in `got`.
//
//   const s = await Session.open(port);              // handshake, auth mode 2
//   const pid = s.publish(3, 1, payload);            // QoS 1 DATA, MAC'd
//   const echo = await s.waitFor((f) => f.channel === 3, 2000);
//   s.close();
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadModule, QnCore } from "../../host/core.ts";
import { MemoryStorage } from "../../host/storage.ts";
import type { Frame } from "../../host/frame.ts";
import { ROOT } from "./build.ts";
import type { FramePort } from "./wire.ts";
import { Codec, ConfigKey, Prio, type Qos, Role, SessionStat } from "../../host/abi.ts";

/** The key in a key file (boards/dev-psk.hex format: hex, # comments). */
export function readKeyFile(path = join(ROOT, "boards/dev-psk.hex")): Uint8Array {
  const hex = readFileSync(path, "utf8")
    .split("\n")
    .map((l) => l.replace(/#.*/, ""))
    .join("")
    .replace(/\s+/g, "");
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

const nowUs = () => process.hrtime.bigint() / 1000n;

export class Session {
  readonly core: QnCore;
  readonly got: Frame[] = [];
  private timer: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();
  private waiters: Array<() => void> = [];

  private constructor(
    readonly port: FramePort,
    key: Uint8Array,
    auth: number,
  ) {
    this.core = new QnCore(loadModule(), { storage: new MemoryStorage(16 * 1024) });
    this.core.init();
    this.core.setConfig(ConfigKey.ROLE, Role.CLIENT);
    this.core.setConfig(ConfigKey.AUTH, auth);
    this.core.setKey(key);
    this.core.tick(nowUs());
    this.core.journalOpen(16 * 1024);
    // After close() the tap stays on the port but does nothing: a closed
    // session (the wrong-key one of qemu.test.ts) must not go on ticking
    // and sending HELLOs into the next session's link.
    port.tap((d) => {
      if (this.closed) return;
      this.core.rx(d);
      this.pump();
    });
    this.timer = setInterval(() => this.pump(), 2);
  }

  /** Tick, flush what the client core wants to send, collect deliveries. */
  pump(): void {
    if (this.closed) return;
    this.core.tick(nowUs());
    const out = this.core.pull();
    if (out.length) {
      const b = Uint8Array.from(out);
      this.writing = this.writing.then(() => this.port.write(b));
    }
    let got = false;
    for (let f; (f = this.core.inboxPop()); ) {
      this.got.push(f);
      got = true;
    }
    if (got) for (const w of this.waiters.splice(0)) w();
  }

  get up(): boolean {
    return this.core.sessionUp();
  }

  /** Handshake with the firmware (server) under key; resolves when the
   *  session is up, throws after timeoutMs. */
  static async open(
    port: FramePort,
    opts: { key?: Uint8Array; auth?: number; timeoutMs?: number } = {},
  ): Promise<Session> {
    const s = new Session(port, opts.key ?? readKeyFile(), opts.auth ?? 2);
    const deadline = Date.now() + (opts.timeoutMs ?? 5000);
    s.core.connect();
    while (!s.up) {
      if (Date.now() > deadline) {
        const fails = s.core.sessionStat(SessionStat.AUTH_FAILURES);
        s.close();
        throw new Error(
          `no session within ${opts.timeoutMs ?? 5000} ms (state ${s.core.sessionState()}, auth failures ${fails})`,
        );
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    return s;
  }

  /** Publish payload on channel at qos; returns the packet id (0 for QoS 0)
   *  or throws with the status. */
  publish(
    channel: number,
    qos: number,
    payload: Uint8Array,
    prio: number = Prio.BULK,
    codec: number = Codec.NONE,
  ): number {
    const r = this.core.publish(channel, qos as Qos, prio as Prio, codec as Codec, payload);
    this.pump();
    return r;
  }

  /** Queue any frame type through the session (MAC'd in auth mode 2). */
  send(type: number, payload: Uint8Array = new Uint8Array(), flags = 1): void {
    this.core.send({ type, flags, payload });
    this.pump();
  }

  /** Wait for the first delivered frame that matches, removing it. */
  async waitFor(match: (f: Frame) => boolean, timeoutMs: number): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.got.findIndex(match);
      if (i >= 0) return this.got.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `no matching delivery within ${timeoutMs} ms (${this.got.length} others; session ${this.up ? "up" : "down"})`,
        );
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 20));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  private closed = false;

  /** Stop pumping and listening (the port stays open; the firmware's
   *  session times out). */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }
}
