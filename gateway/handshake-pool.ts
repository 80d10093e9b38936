// The cores that prove new connections on the fleet listener, before the
// gateway knows which device is there. A fixed number of them, made once
// and reused: a connection costs one of them for at most its handshake
// time, never a new Wasm instance, a journal or a file; with all of them
// busy a connection is refused at once (fleet.ts counts it).
//
// Each one is a session client with no key and no journal: its HELLO
// announces no QoS 2 epoch, and the device applies a HELLO's bases only
// once the CONFIRM proves the key (which a pooled core never sends), so a
// pooled handshake leaves the device's QoS state alone. The link's own
// core then does the session's handshake on the same connection.
import { QnCore, sharedModule } from "../host/core.ts";
import { MemoryStorage } from "../host/storage.ts";
import { configureClient } from "../host/peer.ts";
import { nowUs } from "../host/clock.ts";

export class HandshakePool {
  private readonly free: QnCore[] = [];
  private made = 0;
  /** Cores handed out now. */
  busy = 0;

  constructor(
    readonly size: number,
    private readonly session: { auth: number; handshakeMs: number },
  ) {}

  /** A core with a HELLO queued (pull() it), or undefined when all are busy. */
  take(): QnCore | undefined {
    let core = this.free.pop();
    if (!core) {
      if (this.made >= this.size) return undefined;
      core = new QnCore(sharedModule(), { storage: new MemoryStorage(0) });
      this.made++;
    }
    this.busy++;
    try {
      core.init();
      configureClient(core, { auth: this.session.auth, handshakeMs: this.session.handshakeMs });
      core.forgetKey();
      core.tick(nowUs());
      core.connect();
    } catch (e) {
      this.give(core);
      throw e;
    }
    return core;
  }

  /** Back to the pool; the key it was given is wiped. */
  give(core: QnCore): void {
    core.forgetKey();
    this.busy--;
    this.free.push(core);
  }

  /** Cores made so far (at most size). */
  get instances(): number {
    return this.made;
  }
}
