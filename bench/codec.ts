// Host codec benchmark, side by side in one process and one run:
//  - QN frame encode + decode through the Wasm core's pure frame codec
//    (host/frame-codec.ts over qn_frame_encode / qn_frame_decode: header,
//    CRC-32C, header inverted, COBS and delimiter out; COBS, header back,
//    length, CRC and version checks in; wire bytes and decoded payload are copies the caller owns) vs
//    mqtt-packet PUBLISH generate + parse (its parser's payload is a view of
//    the input), payloads 16 B, 256 B and 4 KiB. QN's largest payload is
//    256 B, so 4 KiB is carried as 16 frames of 256 B (one op = all 16
//    encoded and decoded), as an application would split it.
//  - For reference, the whole messaging path per frame (QnCore.send + pull:
//    pool block, outbox, scheduler; rx on a second core: streaming decoder,
//    dispatch, inbox, pop), which mqtt-packet has no counterpart for.
//  - QN's payload codec (the core's field table, protobuf wire format,
//    through QnCore.encode/decode) vs msgpackr and cbor-x on the same
//    message.
// Usage: node --import tsx bench/codec.ts [--quick]   (prints JSON)
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import mqttPacket from "mqtt-packet";
import { Packr } from "msgpackr";
import { Encoder as CborEncoder } from "cbor-x";
import { loadCore, type Field } from "../host/core.ts";
import { FieldKind } from "../host/abi.ts";
import { FrameCodec } from "../host/frame-codec.ts";
import { FrameType, flags, Prio, Codec } from "../host/frame.ts";
import { interleaved, spread, machine, round, gcBetweenRounds } from "./lib.ts";

const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 3 : 7;
const MS = quick ? 60 : 150;

function frameBench(size: number) {
  const tx = loadCore(),
    rx = loadCore();
  const fc = new FrameCodec(loadCore());
  const max = tx.maxPayload;
  const payload = new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff);
  const parts: Uint8Array[] = [];
  for (let off = 0; off < size; off += max) parts.push(payload.subarray(off, Math.min(size, off + max)));
  const hdr = { type: FrameType.DATA, flags: flags(Prio.BULK), codec: Codec.NONE, channel: 1, packet: 7 };
  const qn = () => {
    for (const p of parts) {
      const f = fc.decode(fc.encode(hdr, p));
      if (f.payload.length !== p.length) throw new Error("QN frame not decoded");
    }
  };
  const qnStack = () => {
    for (const p of parts) {
      tx.send({ type: FrameType.DATA, flags: flags(Prio.BULK), codec: Codec.NONE, channel: 1, payload: p });
      if (rx.rx(tx.pull()) !== 1) throw new Error("QN frame not decoded");
      const f = rx.inboxPop();
      if (!f || f.payload.length !== p.length) throw new Error("QN frame not delivered");
    }
  };
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let parsed: any = null;
  parser.on("packet", (p: any) => {
    parsed = p;
  });
  parser.on("error", (e: Error) => {
    throw e;
  });
  const pkt = {
    cmd: "publish" as const,
    topic: "qn/1",
    payload: Buffer.from(payload),
    qos: 0 as const,
    retain: false,
    dup: false,
  };
  const mqtt = () => {
    const buf = mqttPacket.generate(pkt);
    parsed = null;
    parser.parse(buf);
    if (!parsed || parsed.payload.length !== size) throw new Error("mqtt-packet: not parsed");
  };
  qn();
  qnStack();
  mqtt(); // correctness once before timing
  for (const p of parts)
    if (Buffer.compare(Buffer.from(fc.decode(fc.encode(hdr, p)).payload), Buffer.from(p)) !== 0)
      throw new Error("QN round trip changed the payload");
  const wireQn = parts.reduce((n, p) => n + fc.encode(hdr, p).length, 0);
  const wireMqtt = mqttPacket.generate(pkt).length;
  const r = interleaved({ qn, qn_stack: qnStack, mqtt }, ROUNDS, MS);
  const ratios = r.qn.map((q, i) => q / r.mqtt[i]);
  return {
    payload_bytes: size,
    qn_frames_per_op: parts.length,
    wire_bytes: { qn: wireQn, mqtt: wireMqtt },
    ops_per_s: {
      qn: spread(r.qn.map((x) => round(x))),
      mqtt_packet: spread(r.mqtt.map((x) => round(x))),
      qn_stack: spread(r.qn_stack.map((x) => round(x))),
    },
    ratio_qn_to_mqtt: spread(ratios.map((x) => round(x, 3))),
    ratio_qn_stack_to_mqtt: spread(r.qn_stack.map((q, i) => round(q / r.mqtt[i], 3))),
    goal_3x_met: spread(ratios).median >= 3,
  };
}

function payloadCodecBench() {
  const core = loadCore();
  const name = new TextEncoder().encode("pump-17/pressure");
  // One sensor reading: the same content in every codec.
  const fields: Field[] = [
    { tag: 1, kind: FieldKind.UINT, value: 150n },
    { tag: 2, kind: FieldKind.SINT, value: -3n },
    { tag: 3, kind: FieldKind.BYTES, value: 0n, bytes: name },
    { tag: 4, kind: FieldKind.FIXED32, value: 0xdeadbeefn },
    { tag: 5, kind: FieldKind.UINT, value: 1_700_000_000_123n },
  ];
  const obj = { 1: 150, 2: -3, 3: Buffer.from(name), 4: 0xdeadbeef, 5: 1_700_000_000_123 };
  const packr = new Packr({ useRecords: false });
  const cbor = new CborEncoder({ useRecords: false, mapsAsObjects: true });
  const qnPb = () => {
    const b = core.encode(Codec.PB, fields);
    const f = core.decode(Codec.PB, b);
    if (f.length !== 5) throw new Error("qn decode");
  };
  const msgpackr = () => {
    const b = packr.pack(obj);
    const o = packr.unpack(b);
    if (o[5] !== obj[5]) throw new Error("msgpackr");
  };
  const cborx = () => {
    const b = cbor.encode(obj);
    const o = cbor.decode(b);
    if (o[5] !== obj[5]) throw new Error("cbor-x");
  };
  const contenders: Record<string, () => void> = { qn_protobuf: qnPb, msgpackr, cbor_x: cborx };
  const sizes: Record<string, number> = {
    qn_protobuf: core.encode(Codec.PB, fields).length,
    msgpackr: packr.pack(obj).length,
    cbor_x: cbor.encode(obj).length,
  };
  if ((core.codecs() & (1 << Codec.JSON)) !== 0) {
    contenders.qn_json = () => {
      const b = core.encode(Codec.JSON, fields);
      core.decode(Codec.JSON, b);
    };
    sizes.qn_json = core.encode(Codec.JSON, fields).length;
  }
  for (const f of Object.values(contenders)) f();
  const r = interleaved(contenders, ROUNDS, MS);
  const ratio = (a: string, b: string) => spread(r[a].map((x, i) => round(x / r[b][i], 3)));
  return {
    message:
      "5 fields: uint 150, sint -3, 16-byte string, fixed32 0xDEADBEEF, uint 1700000000123 (msgpackr/cbor-x: the same object keyed 1..5)",
    encoded_bytes: sizes,
    ops_per_s: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, spread(v.map((x) => round(x)))])),
    ratio_qn_protobuf_to_msgpackr: ratio("qn_protobuf", "msgpackr"),
    ratio_qn_protobuf_to_cbor_x: ratio("qn_protobuf", "cbor_x"),
  };
}

/** One workload in this process: `frame:<bytes>` or `payload`. */
function runPart(part: string) {
  if (part === "payload") return payloadCodecBench();
  const m = /^frame:(\d+)$/.exec(part);
  if (!m) throw new Error(`bench/codec.ts: unknown part ${part}`);
  return frameBench(Number(m[1]));
}

/** Each workload in a Node process of its own (its contenders still side
 *  by side, interleaved, in that process). Run one after another in one
 *  process, the JIT state the 16-byte run left behind made QN's 256-byte
 *  figure lower and more variable (1.0-1.9M against 1.55-2.1M ops/s in
 *  five runs each; mqtt-packet's did not move): the figure depended on
 *  what ran before it, not on the codecs. */
function inChild(part: string) {
  const out = execFileSync(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), "--part", part, ...(quick ? ["--quick"] : [])],
    { encoding: "utf8", maxBuffer: 1 << 24 },
  );
  return JSON.parse(out);
}

export function runCodec() {
  return {
    machine: machine(),
    method: `each payload size and the payload codec in a Node process of its own; in it, ${ROUNDS} timed rounds of ~${MS} ms per contender after one warm-up round, contenders interleaved (order alternating)${gcBetweenRounds ? ", a full GC before every round (--expose-gc)" : ""}; one op = encode + decode; median, min, max of the rounds; ratios per round`,
    frame: [16, 256, 4096].map((n) => inChild(`frame:${n}`)),
    payload_codec: inChild("payload"),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf("--part");
  console.log(JSON.stringify(i > 0 ? runPart(process.argv[i + 1]) : runCodec(), null, 2));
}
