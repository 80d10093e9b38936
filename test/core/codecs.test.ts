// Payload codecs: the protobuf codec cross-checked against protobufjs both
// ways, the JSON codec round-trips and refuses malformed input.
import { describe, it, expect } from "vitest";
import protobuf from "protobufjs";
import { loadCore, type Field } from "../../host/core.ts";
import { FieldKind } from "../../host/abi.ts";
import { zigzagDecode } from "../../host/zigzag.ts";
import { Codec } from "../../host/frame.ts";
import { rng } from "./jsframe.ts";

const core = loadCore();
const root = protobuf.parse(`
  syntax = "proto3";
  message M {
    uint64 a = 1; sint64 b = 2; bytes c = 3; fixed32 d = 4; fixed64 e = 5;
    string s = 6; uint32 big_tag = 65535;
  }`).root;
const M = root.lookupType("M");
const te = new TextEncoder();

describe("protobuf codec", () => {
  it("writes the documented vector", () => {
    const b = core.encode(Codec.PB, [
      { tag: 1, kind: FieldKind.UINT, value: 150n },
      { tag: 2, kind: FieldKind.SINT, value: -3n },
      { tag: 3, kind: FieldKind.BYTES, value: 0n, bytes: te.encode("qn") },
      { tag: 4, kind: FieldKind.FIXED32, value: 0xdeadbeefn },
    ]);
    expect(Buffer.from(b).toString("hex")).toBe("089601100" + "51a02716e25efbeadde");
  });

  it("is read by protobufjs exactly, over random messages", () => {
    const r = rng(99);
    for (let i = 0; i < 300; i++) {
      const a = BigInt(r()) * BigInt(r()) * BigInt(1 + (r() % 4));
      const bv = BigInt.asIntN(64, BigInt(r()) * BigInt(r()) * BigInt(r() % 2 ? -1 : 1));
      const c = Uint8Array.from({ length: r() % 60 }, () => r() & 0xff);
      const d = r();
      const e = BigInt.asUintN(64, (BigInt(r()) << 32n) | BigInt(r()));
      const bytes = core.encode(Codec.PB, [
        { tag: 1, kind: FieldKind.UINT, value: BigInt.asUintN(64, a) },
        { tag: 2, kind: FieldKind.SINT, value: bv },
        { tag: 3, kind: FieldKind.BYTES, value: 0n, bytes: c },
        { tag: 4, kind: FieldKind.FIXED32, value: BigInt(d) },
        { tag: 5, kind: FieldKind.FIXED64, value: e },
        { tag: 65535, kind: FieldKind.UINT, value: 7n },
      ]);
      const m = M.toObject(M.decode(bytes), { longs: String, bytes: Array }) as any;
      expect(BigInt(m.a)).toBe(BigInt.asUintN(64, a));
      expect(BigInt(m.b)).toBe(bv);
      expect(Uint8Array.from(m.c ?? [])).toEqual(c);
      expect(m.d >>> 0).toBe(d);
      expect(BigInt(m.e)).toBe(e);
      expect(m.bigTag).toBe(7);
    }
  });

  it("reads what protobufjs writes", () => {
    const r = rng(5);
    for (let i = 0; i < 300; i++) {
      const obj = {
        a: String(r() * 1000),
        b: String(-(r() % 100000)),
        c: Uint8Array.from({ length: r() % 30 }, () => r() & 0xff),
        d: r(),
        s: "héllo-" + i,
      };
      const bytes = M.encode(M.fromObject(obj)).finish();
      const fields = core.decode(Codec.PB, bytes);
      const get = (t: number) => fields.find((f) => f.tag === t)!;
      expect(get(1).value).toBe(BigInt(obj.a));
      const zz = get(2).value;
      expect(zigzagDecode(zz)).toBe(BigInt(obj.b));
      if (obj.c.length) expect(get(3).bytes).toEqual(obj.c);
      if (obj.d) expect(Number(get(4).value)).toBe(obj.d);
      expect(new TextDecoder().decode(get(6).bytes)).toBe(obj.s);
    }
  });

  it("refuses malformed input with ERR_DECODE", () => {
    for (const hex of ["08", "0a05616263", "0b", "00", "0fff", "08ffffffffffffffffff7f", "2501020", "0901"]) {
      expect(() => core.decode(Codec.PB, Buffer.from(hex.length % 2 ? hex + "0" : hex, "hex")), hex).toThrow(
        /ERR_DECODE/,
      );
    }
  });

  it("refuses a destination that is too small and an unknown codec", () => {
    expect(() => core.encode(9, [{ tag: 1, kind: FieldKind.UINT, value: 1n }])).toThrow(/ERR_CODEC/);
    const many: Field[] = Array.from({ length: 25 }, (_, i) => ({ tag: i + 1, kind: FieldKind.UINT, value: 1n }));
    expect(() => core.encode(Codec.PB, many)).toThrow(/ERR_NO_SPACE/);
  });
});

describe("json codec", () => {
  it("writes exact 64-bit integers and escaped strings", () => {
    const b = core.encode(Codec.JSON, [
      { tag: 1, kind: FieldKind.UINT, value: 18446744073709551615n },
      { tag: 2, kind: FieldKind.SINT, value: -9223372036854775808n },
      { tag: 3, kind: FieldKind.BYTES, value: 0n, bytes: te.encode('a"b\\c\n') },
    ]);
    const text = new TextDecoder().decode(b);
    expect(text).toBe('{"1":18446744073709551615,"2":-9223372036854775808,"3":"a\\"b\\\\c\\u000a"}');
    expect(JSON.parse(text)[3]).toBe('a"b\\c\n');
  });

  it("round-trips random field tables", () => {
    const r = rng(3);
    for (let i = 0; i < 300; i++) {
      const fields: Field[] = [
        { tag: 1 + (r() % 1000), kind: FieldKind.UINT, value: BigInt(r()) * BigInt(r()) },
        { tag: 2000, kind: FieldKind.SINT, value: -BigInt(r()) - 1n },
        {
          tag: 3000,
          kind: FieldKind.BYTES,
          value: 0n,
          bytes: te.encode(String.fromCharCode(...Array.from({ length: r() % 20 }, () => 1 + (r() % 126))) + "€𝄞"),
        },
      ];
      const out = core.decode(Codec.JSON, core.encode(Codec.JSON, fields));
      expect(out.map((f) => [f.tag, f.kind, f.value])).toEqual(fields.map((f) => [f.tag, f.kind, f.value]));
      expect(Buffer.from(out[2].bytes!).toString()).toBe(Buffer.from(fields[2].bytes!).toString());
    }
  });

  it("accepts whitespace and standard escapes", () => {
    const f = core.decode(Codec.JSON, te.encode(' { "7" : "\\u00e9\\ud834\\udd1e\\t" , "8":0 } '));
    expect(new TextDecoder().decode(f[0].bytes)).toBe("é𝄞\t");
    expect(f[1]).toMatchObject({ tag: 8, kind: FieldKind.UINT, value: 0n });
    expect(core.decode(Codec.JSON, te.encode("{}"))).toEqual([]);
  });

  it("refuses malformed JSON with ERR_DECODE", () => {
    for (const s of [
      "",
      "{",
      '{"1":}',
      '{"a":1}',
      '{"0":1}',
      '{"1":1.5}',
      '{"1":01}',
      '{"1":true}',
      '{"1":{"2":3}}',
      '{"1":18446744073709551616}',
      '{"1":-9223372036854775809}',
      '{"1":"\\x"}',
      '{"1":"\\ud834"}',
      '{"1":1,}',
      '{"1":1} x',
      "[1]",
      '{"1":"a\nb"}',
    ]) {
      expect(() => core.decode(Codec.JSON, te.encode(s)), s).toThrow(/ERR_DECODE/);
    }
  });
});
