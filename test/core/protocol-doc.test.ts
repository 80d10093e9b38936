// docs/PROTOCOL.md's vectors, checked byte for byte against the core: the
// decoder must read each wire vector back to its header and payload, the
// core's CRC and COBS must produce the raw and wire bytes, and a fresh core
// sending the ping vector must put exactly those bytes on the wire.
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadCore } from "../../host/core.ts";
import { ROOT } from "../../host/status.ts";
import { flipHeader } from "./jsframe.ts";
import { FrameType } from "../../host/abi.ts";

const doc = readFileSync(join(ROOT, "docs/PROTOCOL.md"), "utf8");
const unhex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));
const vectors = [...doc.matchAll(/```vector\n([\s\S]*?)```/g)].map((m) => {
  const v: Record<string, string> = {};
  for (const line of m[1].split("\n")) {
    const [k, ...rest] = line.trim().split(/\s+/);
    if (k) v[k] = rest.join(" ");
  }
  const header = Object.fromEntries(
    v.header.split(" ").map((kv) => {
      const [k, x] = kv.split("=");
      return [k, Number(x)];
    }),
  );
  return { name: v.name, header, payload: unhex(v.payload ?? ""), raw: unhex(v.raw), wire: unhex(v.wire) };
});

describe("PROTOCOL.md vectors", () => {
  it("the document has its vectors", () => {
    expect(vectors.map((v) => v.name)).toEqual(["ping", "data-protobuf", "ident-request-json"]);
  });
  for (const v of vectors) {
    it(`${v.name}: CRC and COBS give the documented bytes`, () => {
      const core = loadCore();
      const body = v.raw.subarray(0, v.raw.length - 4);
      const crc = new DataView(v.raw.buffer, v.raw.byteOffset).getUint32(v.raw.length - 4, true);
      expect(core.crc32c(body)).toBe(crc);
      expect(Buffer.from(core.cobsEncode(flipHeader(v.raw))).toString("hex")).toBe(Buffer.from(v.wire).toString("hex"));
      expect(Buffer.from(body.subarray(24)).toString("hex")).toBe(Buffer.from(v.payload).toString("hex"));
    });
    it(`${v.name}: the decoder reads the wire bytes back to the documented header`, () => {
      const core = loadCore();
      if (v.header.type === FrameType.DATA) {
        expect(core.rx(v.wire)).toBe(1);
        const f = core.inboxPop()!;
        const { type, flags, codec, channel, session, packet, lsn, time } = f;
        expect({ type, flags, codec, channel, session, packet, lsn, time }).toEqual(v.header);
        expect(Buffer.from(f.payload).equals(Buffer.from(v.payload))).toBe(true);
      } else {
        // Requests are answered by the core: the answer proves it was read.
        expect(core.rx(v.wire)).toBe(1);
        const host = loadCore();
        expect(host.rx(core.pull())).toBe(1);
        expect(host.inboxPop()!.packet).toBe(v.header.packet);
      }
    });
  }
  it("ping: a fresh core sends exactly the documented wire bytes", () => {
    const v = vectors[0];
    const core = loadCore();
    core.tick(v.header.time);
    core.send({
      type: v.header.type,
      flags: v.header.flags,
      codec: v.header.codec,
      channel: v.header.channel,
      packet: v.header.packet,
      payload: v.payload,
    });
    // A fresh core's line is idle: the frame goes out behind a 0x00 (section 1).
    expect(Buffer.from(core.pull()).toString("hex")).toBe("00" + Buffer.from(v.wire).toString("hex"));
  });
});
