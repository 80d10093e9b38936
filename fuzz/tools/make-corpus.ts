// Writes the seed corpora of the fuzz targets (fuzz/README.md) into
// fuzz/corpus/<target>/: docs/PROTOCOL.md's frame and codec vectors, one
// input per frame type and flow the receive path knows, config frames, and
// journal images written by a real core during QoS 2 exchanges. The inputs
// are in each target's own format (fuzz/fuzz_rx.c, fuzz/target_*.c); a
// seed only has to start the fuzzer somewhere deep, not check anything.
//   node --import tsx fuzz/tools/make-corpus.ts     (make fuzz-corpus)
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadModule, QnCore, type Field } from "../../host/core.ts";
import { MemoryStorage } from "../../host/storage.ts";
import { AuthMode, ConfigKey, FieldKind, MAX_PAYLOAD, Role, Status } from "../../host/abi.ts";
import { Codec, Flag, FrameType as T, Prio, Qos, flags } from "../../host/frame.ts";
import { ROOT } from "../../host/status.ts";

const OUT = join(ROOT, "fuzz/corpus");
const doc = readFileSync(join(ROOT, "docs/PROTOCOL.md"), "utf8");
const unhex = (s: string) => [...Buffer.from(s.replace(/\s+/g, ""), "hex")];
const u16 = (v: number) => [v & 0xff, (v >> 8) & 0xff];
const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const text = (s: string) => [...Buffer.from(s)];

// ---- the receive targets' op format (fuzz/fuzz_rx.c) ----
const CTL_LONG = 0x20;
const HS_TOKEN = 0x02,
  HS_NO_CONFIRM = 0x08;
interface Frame {
  type: number;
  flags?: number;
  codec?: number;
  channel?: number;
  packet?: number;
  payload?: number[];
}
function frame(f: Frame): number[] {
  const p = f.payload ?? [];
  const ctl = p.length > 255 ? CTL_LONG : 0;
  const len = ctl ? [255, p.length - 255] : [p.length];
  const fl = f.flags ?? Prio.CONTROL;
  return [0x00, ctl, f.type, fl, f.codec ?? Codec.NONE, f.channel ?? 0, ...u32(f.packet ?? 1), ...len, ...p];
}
const raw = (bytes: number[]) => [0x06, bytes.length, ...bytes];
const tick = (ms: number) => [0x07, ...u16(ms)];
const app = (n = 1) => [0x08 | ((n - 1) << 4)];
const pull = (n: number) => [0x09, n - 1];
const nonce = (seed: number) => Array.from({ length: 16 }, (_, i) => (seed * 31 + i * 7) & 0xff);
const handshake = (ctl: number, seed: number) => [0x0a, ctl, ...nonce(seed)];
const delim = [0x0b];
const qos = (q: number, prio: number = Prio.BULK) => flags(prio, q);

const core = new QnCore(loadModule());
core.init();
const pb = (fields: Field[]) => [...core.encode(Codec.PB, fields)];
const json = (fields: Field[]) => [...core.encode(Codec.JSON, fields)];
const uint = (tag: number, v: number | bigint): Field => ({ tag, kind: FieldKind.UINT, value: BigInt(v) });
const sint = (tag: number, v: number): Field => ({ tag, kind: FieldKind.SINT, value: BigInt(v) });
const bytes = (tag: number, b: number[]): Field => ({
  tag,
  kind: FieldKind.BYTES,
  value: 0n,
  bytes: Uint8Array.from(b),
});
/** A CONFIG frame's field: its tag is the config key + 1 (docs/PROTOCOL.md). */
const cfg = (key: number, v: number) => uint(key + 1, v);

const vectors = [...doc.matchAll(/```vector\n([\s\S]*?)```/g)].map((m) => {
  const v: Record<string, string> = {};
  for (const line of m[1].split("\n")) {
    const [k, ...rest] = line.trim().split(/\s+/);
    if (k) v[k] = rest.join(" ");
  }
  return { name: v.name, wire: unhex(v.wire) };
});
const codecVector = (name: "protobuf" | "JSON") => {
  const line = doc.split("\n").find((l) => l.startsWith(`- ${name}: \``));
  if (!line) throw new Error(`PROTOCOL.md has no ${name} codec vector`);
  const body = line.slice(line.indexOf("`") + 1, line.lastIndexOf("`"));
  return name === "protobuf" ? unhex(body) : text(body);
};

const trace = [0, ...Array.from({ length: 16 }, (_, i) => i + 1), ...Array.from({ length: 8 }, (_, i) => 0xa0 + i), 1];
const rx: Record<string, number[]> = {};
for (const v of vectors) rx[`vector-${v.name}`] = [0x00, ...raw(v.wire), ...app(), ...pull(64)];
Object.assign(rx, {
  ping: [0x00, ...frame({ type: T.PING, payload: text("qn") })],
  "ping-emergency-behind-bulk": [
    0x10,
    ...frame({ type: T.DATA, flags: qos(0, 2), payload: Array(200).fill(0x55) }),
    ...app(),
    ...pull(20),
    ...frame({ type: T.PING, flags: Prio.EMERGENCY, payload: text("now") }),
    ...pull(255),
    ...pull(255),
  ],
  "ident-pb": [0x00, ...frame({ type: T.IDENT_REQ, codec: Codec.PB })],
  "ident-json": [0x00, ...frame({ type: T.IDENT_REQ, codec: Codec.JSON })],
  probe: [0x00, ...frame({ type: T.PROBE_REQ, codec: Codec.PB, payload: pb([uint(1, 1), uint(2, 0)]) })],
  "data-qos0-echo": [
    0x00,
    ...frame({ type: T.DATA, flags: qos(Qos.AT_MOST_ONCE), channel: 3, payload: codecVector("protobuf") }),
    ...app(2),
  ],
  "data-qos1-echo-ack": [
    0x00,
    ...frame({ type: T.DATA, flags: qos(Qos.AT_LEAST_ONCE), packet: 1, payload: text("one") }),
    ...app(2),
    ...frame({ type: T.PUBACK, packet: 1 }),
  ],
  "data-qos2-flow": [
    0x00,
    ...frame({ type: T.DATA, flags: qos(Qos.EXACTLY_ONCE), packet: 1, payload: text("two") }),
    ...frame({ type: T.PUBREL, packet: 1 }),
    ...app(),
    ...frame({ type: T.DATA, flags: qos(Qos.EXACTLY_ONCE), packet: 2, payload: text("three") }),
  ],
  "data-traced": [
    0x00,
    ...frame({ type: T.DATA, flags: Flag.TRACE | qos(Qos.AT_MOST_ONCE), payload: [...trace, ...text("hi")] }),
    ...app(2),
  ],
  config: [
    0x00,
    ...frame({
      type: T.CONFIG,
      codec: Codec.PB,
      payload: pb([cfg(ConfigKey.HEARTBEAT_MS, 500), cfg(ConfigKey.HEARTBEAT_MISS, 2)]),
    }),
  ],
  log: [0x00, ...frame({ type: T.LOG_REQ, codec: Codec.PB })],
  reset: [0x00, ...frame({ type: T.RESET_REQ }), ...app()],
  error: [0x00, ...frame({ type: T.ERROR, codec: Codec.PB, payload: pb([sint(1, Status.ERR_SESSION)]) }), ...app()],
  pong: [0x00, ...frame({ type: T.PONG, payload: text("qn") }), ...app()],
  acks: [
    0x00,
    ...frame({ type: T.PUBACK, packet: 1 }),
    ...frame({ type: T.PUBREC, packet: 1 }),
    ...frame({ type: T.PUBCOMP, packet: 1 }),
  ],
  "session-qos2": [
    0x00,
    ...handshake(0, 1),
    ...frame({ type: T.DATA, flags: qos(Qos.EXACTLY_ONCE), packet: 1, payload: text("x") }),
    ...app(),
    ...frame({ type: T.PUBREL, packet: 1 }),
    ...frame({ type: T.LOG_REQ, codec: Codec.JSON }),
  ],
  "session-resume": [0x00, ...handshake(0, 2), ...tick(100), ...handshake(HS_TOKEN, 3), ...frame({ type: T.PING })],
  "hello-only": [0x00, ...handshake(HS_NO_CONFIRM, 4), ...tick(1500)],
  "heartbeat-timeout": [0x00, ...handshake(0, 5), ...tick(2000), ...tick(2000), ...frame({ type: T.PING })],
  noise: [0x03, ...raw([0x01, 0x02, 0xff, 0x00, 0x00, 0x41, 0x42, 0x43]), ...delim, ...frame({ type: T.PING })],
  "long-frame": [
    0x00,
    ...frame({
      type: T.DATA,
      flags: qos(Qos.AT_MOST_ONCE),
      payload: Array.from({ length: MAX_PAYLOAD }, (_, i) => i & 0xff),
    }),
    ...app(2),
  ],
});

// ---- config: codec selector, clock plan, payload (fuzz/target_config.c) ----
const plan = (steps: number, log2us: number) => (log2us << 3) | steps;
const K = ConfigKey;
const config: Record<string, number[]> = {
  "heartbeat-pb": [0, plan(3, 20), ...pb([cfg(K.HEARTBEAT_MS, 500), cfg(K.HEARTBEAT_MISS, 2)])],
  "heartbeat-json": [1, plan(3, 20), ...json([cfg(K.HEARTBEAT_MS, 250), cfg(K.HEARTBEAT_MISS, 5)])],
  "backoff-pair": [0, plan(2, 18), ...pb([cfg(K.BACKOFF_BASE_MS, 50), cfg(K.BACKOFF_CAP_MS, 80)])],
  "backoff-refused": [0, plan(1, 10), ...pb([cfg(K.BACKOFF_BASE_MS, 900), cfg(K.BACKOFF_CAP_MS, 10)])],
  "role-refused": [0, plan(1, 10), ...pb([cfg(K.ROLE, Role.CLIENT)])],
  "node-and-resume": [1, plan(2, 22), ...json([cfg(K.NODE, 1023), cfg(K.RESUME_MS, 5)])],
  "retransmit-handshake": [0, plan(4, 16), ...pb([cfg(K.RETX_MS, 1), cfg(K.HANDSHAKE_MS, 1)])],
  "bytes-refused": [0, plan(0, 0), ...pb([bytes(K.HEARTBEAT_MS + 1, text("x"))])],
  "empty-json": [1, plan(1, 24), ...text("{}")],
  "unknown-codec": [0x85, plan(1, 10), ...pb([cfg(K.HEARTBEAT_MS, 100)])],
  "hour-limits": [
    0,
    plan(2, 31),
    ...pb([
      cfg(K.HEARTBEAT_MS, 3600000),
      cfg(K.HEARTBEAT_MISS, 100),
      cfg(K.BACKOFF_CAP_MS, 3600000),
      cfg(K.BACKOFF_BASE_MS, 3600000),
    ]),
  ],
};

// ---- decode: selector (bit 0 JSON), payload (fuzz/target_decode.c) ----
const decode: Record<string, number[]> = {
  "vector-protobuf": [0, ...codecVector("protobuf")],
  "vector-json": [1, ...codecVector("JSON")],
  "pb-all-kinds": [
    0,
    ...pb([
      uint(1, 2n ** 64n - 1n),
      sint(2, -(2 ** 31)),
      bytes(3, [0, 1, 0xff]),
      { tag: 4, kind: FieldKind.FIXED32, value: 0xdeadbeefn },
      { tag: 65535, kind: FieldKind.FIXED64, value: 2n ** 63n },
    ]),
  ],
  "pb-empty": [0],
  "pb-overlong-varint": [0, 0x08, 0x80, 0x80, 0x00, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
  "pb-group-refused": [0, 0x0b, 0x0c],
  "json-escapes": [1, ...text('{"1":"a\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00","2":"\u00e9"}')],
  "json-limits": [1, ...text('{ "65535" : 18446744073709551615 , "1":-9223372036854775808,"2":-0 }')],
  "json-empty": [1, ...text("{}")],
  "json-many": [1, ...json(Array.from({ length: 24 }, (_, i) => uint(i + 1, i * 1000)))],
  "json-bytes-control": [1, ...json([bytes(7, [0x01, 0x1f, 0x22, 0x5c, 0x7f, 0x80, 0xff])])],
};

// ---- journal: flags, split u16, half 0 bytes, half 1 bytes (fuzz/target_journal.c) ----
// A client publishes QoS 2 to a server (the device) whose journal lives on
// a 16 KiB region, as on mps2-an500, and the other way round; the server's
// storage is taken at points that leave every record type in it.
const HALF = 8192;
function journalImages(): Record<string, Uint8Array> {
  const module = loadModule();
  const key = text("qn-corpus-key-0123456789abcdef01");
  let seed = 7;
  const entropy = (d: Uint8Array) => {
    for (let i = 0; i < d.length; i++) d[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  };
  const storage = new MemoryStorage(16384);
  const end = (role: Role, st: MemoryStorage) => {
    const c = new QnCore(module, { storage: st, entropy });
    c.init();
    c.setConfig(ConfigKey.ROLE, role);
    c.setConfig(ConfigKey.AUTH, AuthMode.NONE);
    c.setKey(Uint8Array.from(key));
    c.journalOpen(st.size);
    return c;
  };
  const client = end(Role.CLIENT, new MemoryStorage(16384));
  const server = end(Role.SERVER, storage);
  let now = 0;
  const step = (n = 1) => {
    for (let i = 0; i < n; i++) {
      now += 1000;
      client.tick(now);
      server.tick(now);
      server.rx(client.pull());
      client.rx(server.pull());
    }
  };
  const publish = (c: QnCore, s: string) => {
    return c.tryPublish(1, Qos.EXACTLY_ONCE, Prio.BULK, Codec.NONE, Buffer.from(s));
  };
  const out: Record<string, Uint8Array> = {};
  const snap = (name: string) => {
    out[name] = Uint8Array.from(storage.data);
  };
  snap("erased");
  client.connect();
  step(5);
  snap("fresh");
  for (let i = 0; i < 3; i++) publish(client, `in-${i}`);
  step(5);
  snap("in-not-taken");
  server.inboxPop();
  step(2);
  snap("in-one-delivered");
  for (let i = 0; i < 3; i++) publish(server, `out-${i}`);
  server.tick(now + 100); // queued, not yet acknowledged: OUT records only
  snap("out-in-flight");
  step(5);
  snap("out-released-done");
  for (let i = 0; i < 60; i++) {
    publish(client, `bulk-${i}`);
    step(2);
    while (server.inboxPop());
  }
  snap("compacted");
  return out;
}
const trimmed = (b: Uint8Array) => {
  let n = b.length;
  while (n > 0 && b[n - 1] === 0xff) n--;
  return [...b.subarray(0, n)];
};
const journal: Record<string, number[]> = {};
for (const [name, img] of Object.entries(journalImages())) {
  const a = trimmed(img.subarray(0, HALF)),
    b = trimmed(img.subarray(HALF));
  journal[name] = [0x00, ...u16(a.length), ...a, ...b];
  if (name === "in-not-taken" || name === "compacted")
    journal[`${name}-crc-fixed`] = [0x01, ...u16(a.length), ...a, ...b];
  if (name === "out-released-done") journal[`${name}-write-fails`] = [0x02, ...u16(a.length), 3, ...a, ...b];
}

const corpora: Record<string, Record<string, number[]>> = {
  "rx-auth0": rx,
  "rx-auth2-pre": rx,
  "rx-auth2-session": rx,
  config,
  decode,
  journal,
};
for (const [target, seeds] of Object.entries(corpora)) {
  const dir = join(OUT, target);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, b] of Object.entries(seeds)) writeFileSync(join(dir, name), Uint8Array.from(b));
  console.log(`fuzz corpus: ${target}: ${Object.keys(seeds).length} seeds`);
}
