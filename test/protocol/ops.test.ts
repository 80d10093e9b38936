// Operations over the link: a config frame applied all or nothing without
// dropping the session, and the device's event log, kept across a reset.
import { describe, it, expect } from "vitest";
import { Link } from "./harness.ts";
import { Codec, ConfigKey, FieldKind, FrameType, SessionStat, Status } from "../../host/abi.ts";
import { zigzagDecode } from "../../host/zigzag.ts";
import { raw } from "../support/raw-core.ts";

const unz = (v: bigint) => Number(zigzagDecode(v));

function request(l: Link, type: number, fields: { tag: number; value: number }[]) {
  const a = l.a.core;
  const payload = fields.length
    ? a.encode(
        Codec.PB,
        fields.map((f) => ({ tag: f.tag, kind: FieldKind.UINT, value: BigInt(f.value) })),
      )
    : new Uint8Array(0);
  a.send({ type, codec: 1, payload, packet: 4242 });
  let reply: any = null;
  // The harness's app drain only keeps DATA: catch the reply first.
  for (let i = 0; i < 20 && !reply; i++) {
    l.a.core.tick(BigInt(l.t) * 1000n);
    l.b.core.rx(a.pull());
    l.b.core.tick(BigInt(l.t) * 1000n);
    a.rx(l.b.core.pull());
    for (let f; (f = a.inboxPop()); ) if (f.packet === 4242) reply = f;
    l.t++;
  }
  return reply;
}

describe("config frames", () => {
  it("apply all values at once, keep the session, and count a generation", () => {
    const l = new Link({ role: 1, auth: 2 }, { role: 0, auth: 2 });
    l.connect();
    const sid = l.b.core.sessionStat(SessionStat.ID);
    const r = request(l, FrameType.CONFIG, [
      { tag: 3, value: 250 },
      { tag: 4, value: 5 },
      { tag: 5, value: 50 },
      { tag: 6, value: 2000 },
    ]);
    expect(r.type).toBe(FrameType.CONFIG_ACK);
    const f = Object.fromEntries(l.a.core.decode(Codec.PB, r.payload).map((x) => [x.tag, x.value]));
    expect(unz(f[1])).toBe(0);
    expect(f[3]).toBe(1n);
    const x = raw(l.b.core).x;
    expect([
      x.qn_config_get(ConfigKey.HEARTBEAT_MS),
      x.qn_config_get(ConfigKey.HEARTBEAT_MISS),
      x.qn_config_get(ConfigKey.BACKOFF_BASE_MS),
      x.qn_config_get(ConfigKey.BACKOFF_CAP_MS),
    ]).toEqual([250, 5, 50, 2000]);
    expect(l.b.up && l.b.core.sessionStat(SessionStat.ID) === sid).toBe(true);
  });

  it("refuse the whole frame when one value is wrong; the running config stays", () => {
    const l = new Link({ role: 1, auth: 2 }, { role: 0, auth: 2 });
    l.connect();
    const x = raw(l.b.core).x;
    const before = [2, 3, 4, 5].map((k) => x.qn_config_get(k));
    for (const [fields, badTag] of [
      [
        [
          { tag: 3, value: 300 },
          { tag: 4, value: 0 },
        ],
        4,
      ], // 0 misses
      [
        [
          { tag: 5, value: 9000 },
          { tag: 6, value: 100 },
        ],
        0,
      ], // base above cap (checked together)
      [
        [
          { tag: 3, value: 300 },
          { tag: 2, value: 0 },
        ],
        2,
      ], // auth mode from the link
      [[{ tag: 1, value: 1 }], 1], // role from the link
    ] as const) {
      const r = request(l, FrameType.CONFIG, fields as any);
      const f = Object.fromEntries(l.a.core.decode(Codec.PB, r.payload).map((y) => [y.tag, y.value]));
      expect(unz(f[1])).toBe(Status.ERR_ARG);
      expect(Number(f[2])).toBe(badTag);
      expect([2, 3, 4, 5].map((k) => x.qn_config_get(k))).toEqual(before);
    }
    expect(l.b.up).toBe(true);
  });

  it("are refused without a session", () => {
    const l = new Link({ role: 1, auth: 0 }, { role: 0, auth: 0 });
    // The client's first HELLO is lost, so no session comes up meanwhile
    // (the answer, of no session, would then be refused as not ours).
    l.a.core.pull();
    const r = request(l, FrameType.CONFIG, [{ tag: 3, value: 300 }]);
    expect(r.type).toBe(FrameType.ERROR);
    expect(unz(l.a.core.decode(Codec.PB, r.payload)[0].value)).toBe(Status.ERR_SESSION);
  });
});

describe("event log", () => {
  it("records link up, config and link down, and keeps them across a reset", () => {
    const l = new Link({ role: 1, auth: 2 }, { role: 0, auth: 2 });
    l.connect();
    request(l, FrameType.CONFIG, [{ tag: 3, value: 400 }]);
    const read = () => {
      const r = request(l, FrameType.LOG_REQ, []);
      expect(r.type).toBe(FrameType.LOG);
      return l.a.core.decode(Codec.PB, r.payload).map((f) => {
        const b = Buffer.from(f.bytes!);
        return { seq: b.readUInt32LE(0), time: b.readUInt32LE(4), type: b[8], code: b.readInt32LE(12) };
      });
    };
    const first = read();
    expect(first.map((e) => e.type)).toEqual([1, 6]); // link up, config applied
    expect(first[1].code).toBe(1);
    l.b.reset(); // power cut: the ring is RAM, the journal is not
    l.run(2000, () => l.a.up && l.b.up);
    const after = read();
    expect(after.slice(0, 2)).toEqual(first);
    expect(after[after.length - 1].type).toBe(1); // the new link up
    expect(after.map((e) => e.seq)).toEqual([...after.map((e) => e.seq)].sort((a, b) => a - b));
  });
});
