// Bad arguments to the host API (found by a robustness pass): each is a
// QnError with its code before anything reaches the core's memory, and the
// core works on afterwards. Before, an oversize input to a primitive or to
// Peer.publish was copied first, over the core's CRC tables (every later
// frame failed its CRC); a key over 32 bytes zeroed the session state;
// channel 300 went out as channel 44; a throwing frame listener crashed the
// process and had its frame handed over twice.
import { describe, it, expect } from "vitest";
import { loadCore, type QnCore } from "../../host/core.ts";
import { Codec, Counter, FieldKind } from "../../host/abi.ts";
import { FrameCodec } from "../../host/frame-codec.ts";
import { Peer } from "../../host/peer.ts";
import { SimDevice } from "../../host/sim-device.ts";
import { memoryLink } from "../../host/transport/memory.ts";
import { TransportError } from "../../host/transport/transport.ts";
import { FrameType, type Frame } from "../../host/frame.ts";

/** One good frame from a to b: b takes it, with no CRC error counted. */
function works(a: QnCore, b: QnCore): void {
  const crcBefore = b.counter(Counter.ERR_CRC);
  a.send({ type: FrameType.DATA, channel: 7, payload: Uint8Array.of(1, 2, 3) });
  expect(b.rx(a.pull())).toBe(1);
  expect(b.counter(Counter.ERR_CRC)).toBe(crcBefore);
  b.inboxPop();
}

describe("the core's host API refuses bad arguments before touching its memory", () => {
  it("oversize inputs to the primitives and the payload codec: ERR_OVERSIZE, and frames still pass their CRC", () => {
    const a = loadCore(),
      b = loadCore();
    const big = new Uint8Array(20000).fill(0xa5);
    expect(() => a.crc32c(big)).toThrow(expect.objectContaining({ code: "ERR_OVERSIZE" }));
    expect(() => a.cobsEncode(big)).toThrow(expect.objectContaining({ code: "ERR_OVERSIZE" }));
    expect(() => a.cobsDecode(big)).toThrow(expect.objectContaining({ code: "ERR_OVERSIZE" }));
    expect(() =>
      a.encode(Codec.PB, [{ tag: 1, kind: FieldKind.BYTES, value: 0n, bytes: big.subarray(0, 9000) }]),
    ).toThrow(expect.objectContaining({ code: "ERR_OVERSIZE" }));
    expect(() => a.encode(Codec.PB, [{ tag: 1, kind: FieldKind.UINT, value: 5 as unknown as bigint }])).toThrow(
      expect.objectContaining({ code: "ERR_ARG" }),
    );
    expect(a.wideCrc).toBe(true);
    works(a, b);
  });

  it("out-of-range frame fields and a payload that is not bytes: ERR_ARG, nothing sent", () => {
    const a = loadCore(),
      b = loadCore();
    for (const bad of [
      { channel: 300 },
      { channel: -1 },
      { codec: 257 },
      { flags: 256 },
      { type: 256 },
      { packet: 2 ** 32 },
      { channel: 1.5 },
    ]) {
      expect(() => a.send({ type: FrameType.DATA, payload: Uint8Array.of(1), ...bad }), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: "ERR_ARG" }),
      );
    }
    expect(() => a.send({ type: FrameType.DATA, payload: "text" as unknown as Uint8Array })).toThrow(
      expect.objectContaining({ code: "ERR_ARG" }),
    );
    expect(() => a.tick(1.5)).toThrow(expect.objectContaining({ code: "ERR_ARG" }));
    expect(a.pull().length).toBe(0);
    works(a, b);
    const fc = new FrameCodec(loadCore());
    expect(() => fc.encode({ type: FrameType.DATA, channel: 300 }, Uint8Array.of(1))).toThrow(
      expect.objectContaining({ code: "ERR_ARG" }),
    );
    expect(() => fc.decode("00" as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: "ERR_ARG" }));
  });
});

describe("Peer refuses bad arguments and survives a throwing listener", () => {
  async function pair() {
    const { a, b } = memoryLink();
    const dev = new SimDevice(b, { auth: 0 });
    const peer = new Peer(a, { session: { auth: 0 } });
    await peer.connect(3000);
    return {
      dev,
      peer,
      close: async () => {
        dev.close();
        await peer.close();
      },
    };
  }
  const echoOf = (peer: Peer, channel: number) =>
    new Promise<Frame>((res) =>
      peer.onFrame((f) => {
        if (f.type === FrameType.DATA && f.channel === channel) res(f);
      }),
    );

  it("publish: oversize payload, channel, qos and prio out of range, a long key, a NaN timeout", async () => {
    const { peer, close } = await pair();
    try {
      const max = peer.core.maxPayload;
      expect(() => peer.publish(5, 0, new Uint8Array(30000))).toThrow(
        expect.objectContaining({ code: "ERR_OVERSIZE" }),
      );
      expect(() => peer.publish(5, 0, new Uint8Array(max + 1))).toThrow(
        expect.objectContaining({ code: "ERR_OVERSIZE" }),
      );
      expect(() => peer.publish(300, 0, Uint8Array.of(1))).toThrow(expect.objectContaining({ code: "ERR_ARG" }));
      expect(() => peer.publish(5, 258, Uint8Array.of(1))).toThrow(expect.objectContaining({ code: "ERR_ARG" }));
      expect(() => peer.publish(5, 0, Uint8Array.of(1), 256)).toThrow(expect.objectContaining({ code: "ERR_ARG" }));
      expect(() => peer.configure({ auth: 0, key: new Uint8Array(3300) })).toThrow(
        expect.objectContaining({ code: "ERR_ARG" }),
      );
      await expect(peer.request(FrameType.PING, { timeoutMs: NaN })).rejects.toMatchObject({ code: "ERR_ARG" });
      // The session and the CRC tables are intact: an echo comes back.
      const echo = echoOf(peer, 5);
      peer.publish(5, 0, Uint8Array.of(9, 8, 7));
      expect([...(await echo).payload]).toEqual([9, 8, 7]);
      expect(peer.core.counter(Counter.ERR_CRC)).toBe(0); // no CRC errors on the host
    } finally {
      await close();
    }
  });

  it("a frame listener that throws: the link is closed with ERR_IO, the process goes on, the frame is not handed over twice", async () => {
    const { peer, close } = await pair();
    try {
      const seen: number[] = [];
      peer.onFrame((f) => {
        if (f.type === FrameType.DATA) {
          seen.push(f.payload[0]);
          throw new Error("application bug");
        }
      });
      peer.publish(5, 0, Uint8Array.of(1));
      await new Promise((r) => setTimeout(r, 200));
      expect(seen).toEqual([1]);
      expect(() => peer.publish(5, 0, Uint8Array.of(2))).toThrow(
        expect.objectContaining({
          code: "ERR_IO",
          message: expect.stringMatching(/a frame listener threw \(application bug\)/),
        }),
      );
    } finally {
      await close();
    }
  });

  it("transport errors carry ERR_IO like a QnError", () => {
    const e = new TransportError("port gone", { disconnected: true });
    expect(e).toMatchObject({ status: -20, code: "ERR_IO", disconnected: true });
  });
});
