// Handshake and authentication: a session comes up in one round trip plus
// the client's proof; a wrong key, a replayed frame and a forged frame are
// refused, counted, and never reach the application.
import { describe, it, expect } from "vitest";
import { Link, KEY } from "./harness.ts";
import { Codec, Counter as C, FrameType, HEADER_SIZE } from "../../host/frame.ts";
import { Capability, FieldKind, QosStat, SessionStat, Status } from "../../host/abi.ts";
import { zigzagDecode } from "../../host/zigzag.ts";
import { flipHeader, rng } from "../core/jsframe.ts";
import { raw } from "../support/raw-core.ts";

/** The bytes of the one frame a pull returned, without the 0x00 a sender
 *  puts before a frame after an idle line (PROTOCOL.md section 1). */
const oneFrame = (w: Uint8Array): Uint8Array => (w[0] === 0 ? w.subarray(1) : w);

describe("handshake", () => {
  for (const auth of [0, 1, 2]) {
    it(`auth mode ${auth}: the session comes up on both ends with one session id`, () => {
      const l = new Link({ role: 1, auth }, { role: 0, auth });
      l.connect();
      const sa = l.a.core.sessionStat(SessionStat.ID),
        sb = l.b.core.sessionStat(SessionStat.ID);
      expect(sa).toBe(sb);
      expect(sa).not.toBe(0n);
      // One round trip (1 ms each way here) plus the confirm.
      expect(Number(l.a.core.sessionStat(SessionStat.HANDSHAKE_US))).toBeLessThanOrEqual(3000);
      const pid = l.a.publish(4, 1, new TextEncoder().encode("hello"));
      expect(pid).toBeGreaterThan(0);
      l.run(10);
      expect(l.b.got.map((g) => g.payload.toString())).toEqual(["hello"]);
    });
  }

  it("a wrong key is refused on both sides, counted, and nothing gets through", () => {
    const wrong = new TextEncoder().encode("not-the-key-0123456789abcdef0123");
    const l = new Link({ role: 1, auth: 2, key: wrong }, { role: 0, auth: 2 });
    l.a.core.connect();
    l.run(500);
    expect(l.a.up).toBe(false);
    expect(l.b.up).toBe(false);
    expect(l.a.core.counter(C.AUTH_FAIL)).toBeGreaterThan(0); // the server's proof did not check out
    expect(l.a.publish(1, 0, Uint8Array.of(1))).toBe(-23); // ERR_LINK_DOWN: fail fast
    expect(l.b.got).toEqual([]);
  });

  it("a client with the wrong key that skips the proof check is refused by the server", () => {
    // The server must not trust a client just because it answered WELCOME.
    const l = new Link({ role: 1, auth: 1, key: new TextEncoder().encode("wrong") }, { role: 0, auth: 1 });
    l.a.core.connect();
    l.step();
    l.step(); // WELCOME is now at the client
    expect(l.b.up).toBe(false);
    l.run(50);
    expect(l.b.up).toBe(false);
    expect(l.b.got).toEqual([]);
  });

  it("a mismatched auth mode is refused with ERR_AUTH", () => {
    const l = new Link({ role: 1, auth: 0 }, { role: 0, auth: 2 });
    l.a.core.connect();
    l.run(100);
    expect(l.a.up || l.b.up).toBe(false);
    expect(l.b.core.counter(C.AUTH_FAIL)).toBeGreaterThan(0);
  });
});

describe("per-frame MAC and replay window (auth mode 2)", () => {
  function captured() {
    const l = new Link({ role: 1, auth: 2 }, { role: 0, auth: 2 });
    l.connect();
    // Capture the wire bytes of one QoS 0 message from a to b.
    l.a.publish(9, 0, new TextEncoder().encode("open valve 3"));
    const wire = oneFrame(l.a.core.pull());
    l.b.core.rx(wire);
    l.b.drain();
    expect(l.b.got).toHaveLength(1);
    return { l, wire };
  }

  it("a replayed frame is rejected and counted", () => {
    const { l, wire } = captured();
    l.b.core.rx(wire);
    l.b.drain();
    expect(l.b.got).toHaveLength(1);
    expect(l.b.core.counter(C.REPLAY)).toBe(1);
  });

  it("a forged frame (payload changed, CRC fixed up) is rejected and counted", async () => {
    const { l, wire } = captured();
    const raw = flipHeader(l.b.core.cobsDecode(wire.subarray(0, -1)));
    // Change the LSN so the replay window would accept it, and the payload.
    const v = new DataView(raw.buffer, raw.byteOffset);
    v.setUint32(16, v.getUint32(16, true) + 5, true);
    raw[24] ^= 0x20;
    const body = raw.subarray(0, raw.length - 4);
    v.setUint32(raw.length - 4, l.b.core.crc32c(body), true);
    l.b.core.rx(l.b.core.cobsEncode(flipHeader(raw)));
    l.b.drain();
    expect(l.b.got).toHaveLength(1);
    expect(l.b.core.counter(C.AUTH_FAIL)).toBe(1);
  });

  // The receiver checks a MAC'd frame's MAC before its CRC and computes the
  // CRC only when the MAC fails (frame_check, macFirst): the verdicts must
  // be the ones a CRC-first receiver gives.
  function relay(l: Link, raw: Uint8Array) {
    const before = {
      crc: l.b.core.counter(C.ERR_CRC),
      auth: l.b.core.counter(C.AUTH_FAIL),
      frames: l.b.core.counter(C.FRAMES_IN),
    };
    const n = l.b.core.rx(l.b.core.cobsEncode(flipHeader(raw)));
    l.b.drain();
    return {
      n,
      crc: l.b.core.counter(C.ERR_CRC) - before.crc,
      auth: l.b.core.counter(C.AUTH_FAIL) - before.auth,
      frames: l.b.core.counter(C.FRAMES_IN) - before.frames,
    };
  }

  it("line noise in a MAC'd frame is a CRC error, not an authentication failure", () => {
    const { l, wire } = captured();
    const raw = flipHeader(l.b.core.cobsDecode(wire.subarray(0, -1)));
    const v = new DataView(raw.buffer, raw.byteOffset);
    v.setUint32(16, v.getUint32(16, true) + 1, true); // a fresh LSN...
    raw[30] ^= 0x04; // ...and a flipped payload bit, CRC left as it was
    expect(relay(l, raw)).toEqual({ n: 0, crc: 1, auth: 0, frames: 0 });
    expect(l.b.got).toHaveLength(1);
    expect(l.b.core.lastError()).toBe(-1); // ERR_CRC
  });

  it("a frame whose MAC checks out is taken even if only its CRC field was hit", () => {
    const { l } = captured();
    l.a.publish(9, 0, new TextEncoder().encode("close valve 3"));
    const raw = flipHeader(l.b.core.cobsDecode(oneFrame(l.a.core.pull()).subarray(0, -1)));
    raw[raw.length - 1] ^= 0x80; // the CRC field only: header, payload and MAC intact
    expect(relay(l, raw)).toEqual({ n: 1, crc: 0, auth: 0, frames: 1 });
    expect(new TextDecoder().decode(l.b.got[1].payload)).toBe("close valve 3");
  });

  it("a frame of another version inside a MAC session takes the CRC path", () => {
    const { l } = captured();
    l.a.publish(9, 0, Uint8Array.of(1));
    const raw = flipHeader(l.b.core.cobsDecode(oneFrame(l.a.core.pull()).subarray(0, -1)));
    raw[0] = 7; // a corrupt version byte: CRC error, as without frame MACs
    expect(relay(l, raw)).toMatchObject({ n: 0, crc: 1, auth: 0 });
  });

  it("never delivers a corrupted frame: 2,000 random bit flips on MAC'd frames, each counted once", () => {
    const { l } = captured();
    const r = rng(11);
    let corrupted = 0,
      intact = 0;
    for (let k = 0; k < 2000; k++) {
      const msg = Buffer.from(`reading ${k} ${"x".repeat(r() % 40)}`);
      l.a.publish(9, 0, msg);
      const raw = flipHeader(l.b.core.cobsDecode(oneFrame(l.a.core.pull()).subarray(0, -1)));
      const flips = r() % 3; // 0: intact, 1 or 2 bits anywhere (header, payload, MAC, CRC)
      for (let f = 0; f < flips; f++) raw[r() % raw.length] ^= 1 << (r() % 8);
      const before = l.b.got.length;
      relay(l, raw);
      if (l.b.got.length > before) {
        // Taken: it must be exactly what was sent.
        expect(l.b.got[l.b.got.length - 1].payload.equals(msg), `frame ${k}`).toBe(true);
        intact++;
      } else {
        corrupted++;
        expect(flips, `frame ${k} lost with no bit flipped`).toBeGreaterThan(0);
      }
    }
    // Every frame not taken was refused once, under one counter.
    const refused =
      l.b.core.counter(C.ERR_CRC) +
      l.b.core.counter(C.AUTH_FAIL) +
      l.b.core.counter(C.ERR_OVERSIZE) +
      l.b.core.counter(C.ERR_TRUNCATED) +
      l.b.core.counter(C.ERR_VERSION) +
      l.b.core.counter(C.REPLAY) +
      l.b.core.counter(C.SESSION_REJECT);
    expect(refused).toBe(corrupted);
    expect(corrupted).toBeGreaterThan(1000);
    expect(intact).toBeGreaterThan(600);
  });

  it("a frame without a MAC inside a MAC session is rejected", () => {
    const { l } = captured();
    const other = new Link({ role: 1, auth: 0 }, { role: 0, auth: 0 });
    other.a.publish(9, 0, Uint8Array.of(1, 2, 3));
    l.b.core.rx(other.a.core.pull());
    l.b.drain();
    expect(l.b.got).toHaveLength(1);
    expect(l.b.core.counter(C.SESSION_REJECT) + l.b.core.counter(C.AUTH_FAIL)).toBeGreaterThan(0);
  });

  it("the key never appears in identity or in any frame on the wire", () => {
    const l = new Link({ role: 1, auth: 2 }, { role: 0, auth: 2 });
    const seen: Uint8Array[] = [];
    l.a.core.connect();
    for (let i = 0; i < 200; i++) {
      l.step();
    }
    l.a.core.send({ type: FrameType.IDENT_REQ, codec: Codec.PB });
    seen.push(l.a.core.pull());
    const all = Buffer.concat([...seen, Buffer.from(raw(l.b.core).mem)]);
    expect(Buffer.from(raw(l.a.core).mem).includes(Buffer.from(KEY))).toBe(true); // the core holds it...
    const wireOnly = Buffer.concat(seen);
    expect(wireOnly.includes(Buffer.from(KEY.subarray(0, 8)))).toBe(false); // ...the wire never does
    expect(all.length).toBeGreaterThan(0);
  });
});

describe("versions and capabilities", () => {
  it("a HELLO of another protocol version is answered with WELCOME status ERR_VERSION and no session", async () => {
    const { loadCore } = await import("../../host/core.ts");
    const l = new Link({ role: 1, auth: 1 }, { role: 0, auth: 1 });
    const raw = loadCore();
    const payload = raw.encode(Codec.PB, [
      { tag: 1, kind: FieldKind.UINT, value: 99n },
      { tag: 4, kind: FieldKind.BYTES, value: 0n, bytes: new Uint8Array(16) },
      { tag: 7, kind: FieldKind.UINT, value: 1n },
    ]);
    raw.send({ type: FrameType.HELLO, codec: Codec.PB, payload, packet: 77 });
    l.b.core.rx(raw.pull());
    const wire = oneFrame(l.b.core.pull());
    const frame = flipHeader(raw.cobsDecode(wire.subarray(0, wire.indexOf(0))));
    expect(frame[1]).toBe(FrameType.WELCOME);
    const len = frame[6] | (frame[7] << 8);
    const f = raw.decode(Codec.PB, frame.subarray(HEADER_SIZE, HEADER_SIZE + len));
    const st = f.find((x) => x.tag === 1)!.value;
    expect(Number(zigzagDecode(st))).toBe(Status.ERR_VERSION);
    expect(l.b.up).toBe(false);
  });

  it("the client keeps the server's refusal reason; capabilities are exchanged", () => {
    const bad = new Link({ role: 1, auth: 1 }, { role: 0, auth: 2 });
    bad.run(50);
    expect(Number(bad.a.core.sessionStat(SessionStat.REFUSAL))).toBe(Status.ERR_AUTH); // auth modes differ
    const l = new Link({ role: 1, auth: 1 }, { role: 0, auth: 1 });
    l.connect();
    expect(Number(l.a.core.sessionStat(SessionStat.PEER_CAPS)) & Capability.JOURNAL).toBe(Capability.JOURNAL); // the server's journal is open
    const codecs = (1 << Codec.PB) | (1 << Codec.JSON);
    expect(Number(l.b.core.sessionStat(SessionStat.PEER_CAPS)) & codecs).toBe(codecs); // the client's codecs: protobuf and JSON
  });
});

describe("a HELLO from a client without the key", () => {
  it("does not move the device's QoS 2 duplicate state (bases and epoch wait for the proof)", () => {
    const l = new Link({ role: 1, auth: 2 }, { role: 0, auth: 2 });
    l.connect();
    let sent = 0;
    for (let t = 0; sent < 5 && t < 1000; t++) {
      if (l.a.publish(1, 2, Buffer.from(`m${sent}`)) > 0) sent++;
      l.step();
    }
    l.run(200);
    expect(l.b.got).toHaveLength(5);
    const dev = l.b.core;
    const before = [
      dev.qosStat(QosStat.Q2_EXPECTED),
      dev.qosStat(QosStat.PEER_EPOCH),
      dev.qosStat(QosStat.EPOCH_RESETS),
    ];
    // Another client, another key, a new journal (a new numbering epoch,
    // ids from 1): its HELLO reaches the device.
    const intruder = new Link(
      { role: 1, auth: 2, key: new TextEncoder().encode("not-the-key-0123456789abcdef0123"), seed: 99 },
      { role: 0, auth: 2 },
    );
    intruder.a.core.connect();
    const hello = intruder.a.core.pull();
    expect(hello.length).toBeGreaterThan(0);
    l.b.core.rx(hello);
    l.b.core.pull();
    expect([
      dev.qosStat(QosStat.Q2_EXPECTED),
      dev.qosStat(QosStat.PEER_EPOCH),
      dev.qosStat(QosStat.EPOCH_RESETS),
    ]).toEqual(before);
  });
});
