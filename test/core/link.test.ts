// Two cores wired back to back: probes, identity and the priority
// scheduler, through the frames a real link carries.
import { describe, it, expect } from "vitest";
import { loadCore, type QnCore } from "../../host/core.ts";
import { FieldKind } from "../../host/abi.ts";
import { zigzagDecode } from "../../host/zigzag.ts";
import { Codec, FrameType, Prio, Counter, flags } from "../../host/frame.ts";
import { Status } from "../../host/status.ts";
import { raw } from "../support/raw-core.ts";

function pair() {
  return { host: loadCore(), dev: loadCore() };
}

function request(host: QnCore, dev: QnCore, type: number, codec: number, fields: any[]) {
  const payload = fields.length ? host.encode(codec, fields) : new Uint8Array(0);
  const packet = host.send({ type, codec, payload });
  dev.rx(host.pull());
  host.rx(dev.pull());
  const reply = host.inboxPop()!;
  expect(reply.packet).toBe(packet);
  return { reply, fields: host.decode(reply.codec, reply.payload) };
}

const probe = (host: QnCore, dev: QnCore, id: number, arg = 0n) => {
  const { reply, fields } = request(host, dev, FrameType.PROBE_REQ, Codec.PB, [
    { tag: 1, kind: FieldKind.UINT, value: BigInt(id) },
    { tag: 2, kind: FieldKind.UINT, value: arg },
  ]);
  expect(reply.type).toBe(FrameType.PROBE_RES);
  const m = Object.fromEntries(fields.map((f) => [f.tag, f.value]));
  return { id: Number(m[1]), status: Number(BigInt.asIntN(64, zigzagDecode(m[2]))), m };
};

describe("identity", () => {
  it("reports version, build id, heap base and board facts, in PB and JSON", () => {
    const { host, dev } = pair();
    dev.boardInfo(48_000_000, 65536, "sim");
    for (const codec of [Codec.PB, Codec.JSON]) {
      const { reply, fields } = request(host, dev, FrameType.IDENT_REQ, codec, []);
      expect(reply.type).toBe(FrameType.IDENT);
      expect(reply.codec).toBe(codec);
      const get = (t: number) => fields.find((f) => f.tag === t)!;
      expect(new TextDecoder().decode(get(1).bytes)).toMatch(/^\d+\.\d+\.\d+$/);
      expect(Number(get(2).value)).toBe(dev.buildId());
      expect(new TextDecoder().decode(get(3).bytes)).toBe("sim");
      expect(get(4).value).toBe(48_000_000n);
      expect(Number(get(6).value)).toBe(raw(dev).x.qn_heap_base());
    }
  });
});

describe("probes", () => {
  it("mem.pools exhausts every pool and restores it", () => {
    const { host, dev } = pair();
    const r = probe(host, dev, 3);
    expect(r.status).toBe(Status.OK);
    expect(Number(r.m[4])).toBe(dev.pool(0).count + dev.pool(1).count);
    expect(dev.pool(0).inUse + dev.pool(1).inUse).toBe(0);
  });
  it("ring.buffer crosses the 2^32 index wrap", () => {
    const { host, dev } = pair();
    const r = probe(host, dev, 6);
    expect(r.status).toBe(Status.OK);
    expect(r.m[4]).toBe(1n);
  });
  it("frame.codec rejects every single-bit corruption", () => {
    const { host, dev } = pair();
    for (const len of [1n, 16n, 200n]) {
      const r = probe(host, dev, 7, len);
      expect(r.status).toBe(Status.OK);
      expect(r.m[4]).toBe((24n + len + 4n) * 8n);
      expect(r.m[5]).toBe(r.m[4]);
    }
  });
  it("payload.codecs round-trips every built codec", () => {
    const { host, dev } = pair();
    const r = probe(host, dev, 8);
    expect(r.status).toBe(Status.OK);
    expect(r.m[3]).toBe(2n);
  });
  it("mem.leak reports zero blocks in use on an idle core", () => {
    const { host, dev } = pair();
    const r = probe(host, dev, 4);
    expect(r.status).toBe(Status.OK);
    expect(r.m[3]).toBe(0n);
  });
  it("an unknown probe answers ERR_ARG", () => {
    const { host, dev } = pair();
    expect(probe(host, dev, 99).status).toBe(Status.ERR_ARG);
  });
});

describe("priority scheduler", () => {
  it("sends emergency before control before bulk", () => {
    const { host, dev } = pair();
    host.send({ type: FrameType.DATA, flags: flags(Prio.BULK), packet: 1 });
    host.send({ type: FrameType.DATA, flags: flags(Prio.CONTROL), packet: 2 });
    host.send({ type: FrameType.DATA, flags: flags(Prio.EMERGENCY), packet: 3 });
    dev.rx(host.pull());
    expect([1, 2, 3].map(() => dev.inboxPop()!.packet)).toEqual([3, 2, 1]);
  });

  it("cuts a part-sent bulk frame for an emergency frame and resends it whole", () => {
    const { host, dev } = pair();
    const bulk = new Uint8Array(200).fill(7);
    host.send({ type: FrameType.DATA, flags: flags(Prio.BULK), packet: 10, payload: bulk });
    host.send({ type: FrameType.DATA, flags: flags(Prio.BULK), packet: 11, payload: bulk });
    const first = host.pull(50); // 50 bytes of bulk frame 10 are on the wire
    expect(host.txInFlight()).toBeGreaterThan(0);
    host.send({ type: FrameType.DATA, flags: flags(Prio.EMERGENCY), packet: 99, payload: Uint8Array.of(1) });
    const rest = host.pull();
    // The emergency frame starts right after the cut: the delimiter is the
    // first byte pulled.
    expect(rest[0]).toBe(0);
    dev.rx(Buffer.concat([first, rest]));
    const got = [];
    for (let f; (f = dev.inboxPop()); ) got.push(f.packet);
    expect(got).toEqual([99, 10, 11]);
    expect(host.counter(Counter.PREEMPT)).toBe(1);
    expect(dev.counter(Counter.ERR_TRUNCATED) + dev.counter(Counter.ERR_CRC)).toBe(1);
    expect(host.pool(0).inUse + host.pool(1).inUse).toBe(0);
  });

  it("refuses new frames with a status when the outbox or pools are full", () => {
    const { host } = pair();
    let sent = 0,
      err: any;
    try {
      for (; sent < 100; sent++)
        host.send({ type: FrameType.DATA, flags: flags(Prio.BULK), payload: new Uint8Array(200) });
    } catch (e) {
      err = e;
    }
    expect(err?.code).toMatch(/ERR_RING_FULL|ERR_POOL_EMPTY/);
    expect(sent).toBe(8);
    // Nothing leaked: once drained, all blocks are back.
    host.pull();
    expect(host.pool(0).inUse + host.pool(1).inUse).toBe(0);
  });
});

describe("id generator", () => {
  it("id.generator probe: strictly increasing ids through clock steps back and stalls", () => {
    const { host, dev } = pair();
    const r = probe(host, dev, 10);
    expect(r.status).toBe(Status.OK);
    expect(r.m[3]).toBe(20000n + 4097n);
    expect(r.m[4]).toBeGreaterThan(0n);
    expect(r.m[5]).toBeGreaterThan(0n);
  });
  it("the live generator never repeats across a simulated backward clock step", () => {
    const core = loadCore();
    const seen = new Set<bigint>();
    let prev = -1n;
    const times = [5_000_000, 5_000_100, 4_000_000, 4_000_000, 9_000_000, 1_000];
    for (const t of times) {
      core.tick(t);
      for (let i = 0; i < 3000; i++) {
        const id = core.idNext();
        expect(id > prev).toBe(true);
        seen.add(id);
        prev = id;
      }
    }
    expect(seen.size).toBe(times.length * 3000);
  });
});

describe("a frame after an idle line goes out behind a 0x00 of its own", () => {
  it("noise on the quiet line costs no frame: the receiver drops the noise and takes the next frame whole", () => {
    const a = loadCore(),
      b = loadCore();
    a.send({ type: FrameType.DATA, channel: 1, payload: Uint8Array.of(1) });
    expect(b.rx(a.pull())).toBe(1);
    b.inboxPop();
    b.rx(Uint8Array.of(0x55, 0x13, 0x77)); // line noise, no 0x00: the start of "a frame"
    a.send({ type: FrameType.DATA, channel: 1, payload: Uint8Array.of(2) });
    expect(b.rx(a.pull())).toBe(1);
    expect([...b.inboxPop()!.payload]).toEqual([2]);
  });
  it("frames back to back get no extra byte", () => {
    const a = loadCore();
    a.send({ type: FrameType.DATA, channel: 1, payload: Uint8Array.of(1) });
    a.send({ type: FrameType.DATA, channel: 1, payload: Uint8Array.of(2) });
    const w = a.pull();
    expect(w[0]).toBe(0); // idle line: one 0x00 first
    const end = w.indexOf(0, 1); // the first frame's delimiter
    expect(w[end + 1]).not.toBe(0); // the second follows at once
    expect(w.filter((x) => x === 0).length).toBe(3);
  });
});
