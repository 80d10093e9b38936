// The decoder properties of property.test.ts, held in the states where a
// frame means more than its bytes: a device (server, auth mode 2) in the
// middle of a handshake, and an authenticated session carrying QoS 2 with
// its journal. Random chunking, random corruption (bit flips, a byte
// deleted or inserted) and random garbage never crash either core; in a
// handshake nothing but a PONG that was sent reaches the application; in
// the session every QoS 2 message reaches it exactly once, in order, and
// nothing else does, however the link mangles the frames and however often
// the session is renewed across it (the sender's retransmissions and the
// receiver's duplicate suppression repair what was lost). QN_PROPERTY_INPUTS sets the inputs per state (the fuzz campaign
// runs 10 million; make test the default). The counts are printed.
import { describe, it, expect } from "vitest";
import { loadModule, QnCore } from "../../host/core.ts";
import { MemoryStorage } from "../../host/storage.ts";
import { FrameType, Counter, Codec, Prio, Qos } from "../../host/frame.ts";
import { AuthMode, ConfigKey, Role, SessionStat, SessionState, Status } from "../../host/abi.ts";
import { wire, rng } from "./jsframe.ts";

const INPUTS = Number(process.env.QN_PROPERTY_INPUTS ?? 20_000);
const KEY = new TextEncoder().encode("qn-property-key-0123456789abcdef");
const module = loadModule();

/** A core with a seeded entropy source, a journal and auth mode 2. */
function end(role: Role, seed: number): QnCore {
  const r = rng(seed);
  const core = new QnCore(module, {
    storage: new MemoryStorage(16 * 1024),
    entropy: (d) => {
      for (let i = 0; i < d.length; i++) d[i] = r() & 0xff;
    },
  });
  core.init();
  for (const [k, v] of [
    [ConfigKey.ROLE, role],
    [ConfigKey.AUTH, AuthMode.FRAME_MAC],
    [ConfigKey.RETX_MS, 20],
  ] as const)
    expect(core.trySetConfig(k, v)).toBe(Status.OK);
  core.setKey(KEY);
  core.journalOpen(16 * 1024);
  return core;
}

/** The link's damage for one input: kind 0 leaves the bytes as they are,
 *  1 flips 1-4 bits or deletes or inserts a byte, 2 replaces them with
 *  garbage. */
function mangle(r: () => number, kind: number, bytes: Uint8Array): Uint8Array {
  if (kind === 0 || bytes.length === 0) return bytes;
  if (kind === 2) return Uint8Array.from({ length: r() % 600 }, () => r() & 0xff);
  let s = Buffer.from(bytes);
  const m = r() % 3;
  if (m === 0) for (let k = 1 + (r() % 4); k--; ) s[r() % s.length] ^= 1 << (r() % 8);
  else if (m === 1) {
    const at = r() % s.length;
    s = Buffer.concat([s.subarray(0, at), s.subarray(at + 1)]);
  } else {
    const at = r() % s.length;
    s = Buffer.concat([s.subarray(0, at), Buffer.from([r() & 0xff]), s.subarray(at)]);
  }
  return s;
}

/** Hand bytes over in random chunks, then a delimiter so the next input
 *  starts clean. */
function feed(r: () => number, core: QnCore, bytes: Uint8Array): void {
  for (let o = 0; o < bytes.length; ) {
    const c = 1 + (r() % 97);
    core.rx(bytes.subarray(o, o + c));
    o += c;
  }
  core.rx(Uint8Array.of(0));
}

const state = (c: QnCore) => Number(c.sessionStat(SessionStat.STATE));
const up = (c: QnCore) => state(c) === SessionState.UP;

describe("decoder properties in the handshake and QoS 2 states", () => {
  it(`a device in the middle of a handshake takes only the PONGs sent, over ${INPUTS} inputs`, () => {
    const r = rng(0x4a5d);
    const client = end(Role.CLIENT, 1),
      server = end(Role.SERVER, 2);
    client.connect();
    feed(r, server, client.pull());
    expect(state(server)).toBe(SessionState.WELCOMED);
    const counts = [0, 0, 0];
    let delivered = 0;
    const t0 = Date.now();
    for (let input = 0; input < INPUTS; input++) {
      const kind = r() % 3;
      const sent: string[] = [];
      const frames: Uint8Array[] = [];
      for (let n = 1 + (r() % 3); n--; ) {
        const p = Uint8Array.from({ length: r() % 40 }, () => (r() % 5 === 0 ? 0 : r() & 0xff));
        const type = [FrameType.PONG, FrameType.PING, FrameType.DATA, FrameType.RESET_REQ][r() % 4];
        frames.push(wire({ type, flags: Prio.CONTROL, packet: r(), session: r() % 2 ? 0 : r(), lsn: r() }, p));
        if (type === FrameType.PONG) sent.push(Buffer.from(p).toString("hex"));
      }
      feed(r, server, mangle(r, kind, Buffer.concat(frames)));
      const got: string[] = [];
      for (let f; (f = server.inboxPop()); ) {
        expect(f.type, "only a PONG reaches the application outside a session").toBe(FrameType.PONG);
        got.push(Buffer.from(f.payload).toString("hex"));
      }
      for (const g of got) expect(sent.includes(g), `PONG ${g} was never sent`).toBe(true);
      if (kind === 0) expect(got).toEqual(sent);
      server.pull(); // its answers (PONGs, ERRORs) go nowhere
      delivered += got.length;
      counts[kind]++;
    }
    expect(state(server)).toBe(SessionState.WELCOMED);
    expect(server.pool(0).inUse + server.pool(1).inUse).toBe(0);
    console.log(
      `property (handshake state): ${INPUTS} inputs (${counts[0]} valid, ${counts[1]} corrupted, ` +
        `${counts[2]} garbage), ${delivered} PONGs delivered, nothing else, ${Date.now() - t0} ms`,
    );
  }, 3_600_000);

  it(`QoS 2 in an authenticated session arrives exactly once and in order, over ${INPUTS} inputs`, () => {
    const r = rng(0x9052);
    const client = end(Role.CLIENT, 3),
      server = end(Role.SERVER, 4);
    let now = 0;
    const tick = (ms: number) => {
      now += ms * 1000;
      client.tick(now);
      server.tick(now);
    };
    client.connect();
    for (let i = 0; i < 20 && !(up(client) && up(server)); i++) {
      feed(r, server, client.pull());
      feed(r, client, server.pull());
      tick(1);
    }
    expect(up(client) && up(server)).toBe(true);
    const published: string[] = [];
    let taken = 0;
    const counts = [0, 0, 0];
    const take = () => {
      for (let f; (f = server.inboxPop()); ) {
        const p = Buffer.from(f.payload).toString();
        expect(p, `delivery ${taken}: QoS 2 exactly once, in order`).toBe(published[taken]);
        taken++;
      }
    };
    const t0 = Date.now();
    for (let input = 0; input < INPUTS; input++) {
      for (let n = r() % 3; n--; ) {
        const p = Buffer.from(`m${published.length}:${(r() >>> 0).toString(36)}`);
        if (client.tryPublish(1, Qos.EXACTLY_ONCE, Prio.BULK, Codec.NONE, p) > 0) published.push(p.toString());
      }
      // Now and then the client drops the session: the handshake that
      // renews it crosses the same damaging link.
      if (r() % 400 === 0) client.disconnect();
      const kind = r() % 3;
      feed(r, server, mangle(r, kind, client.pull()));
      take();
      feed(r, client, server.pull());
      tick(1 + (r() % 30));
      counts[kind]++;
    }
    // A clean link until everything published is through.
    for (let i = 0; i < 5000 && taken < published.length; i++) {
      feed(r, server, client.pull());
      take();
      feed(r, client, server.pull());
      tick(25);
    }
    expect(taken).toBe(published.length);
    const c = (id: Counter) => server.counter(id);
    console.log(
      `property (QoS 2 session, auth 2): ${INPUTS} inputs (${counts[0]} valid, ${counts[1]} corrupted, ` +
        `${counts[2]} garbage), ${published.length} messages published, each delivered once and in order; the device ` +
        `refused ${c(Counter.ERR_CRC)} damaged frames (a MAC that fails, then the CRC) and ${c(Counter.AUTH_FAIL)} forged ones, suppressed ` +
        `${c(Counter.DUP_SUPPRESSED)} duplicates, dropped ${c(Counter.OOO_DROP)} out of order; ` +
        `${server.sessionStat(SessionStat.SESSIONS_UP)} sessions, ${Date.now() - t0} ms`,
    );
  }, 3_600_000);
});
