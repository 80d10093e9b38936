// QnCore's typed face (host/core.ts): two cores, a client and a server,
// brought up and driven with the named methods only (no raw exports), and
// every argument the wrapper copies into the core checked first.
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadCore, type QnCore } from "../../host/core.ts";
import { QnError, ROOT } from "../../host/status.ts";
import {
  AuthMode,
  Codec,
  ConfigKey,
  Counter,
  EventType,
  Feature,
  Flag,
  FrameType,
  JournalStat,
  Prio,
  Qos,
  QosStat,
  Role,
  SchedStat,
  SessionState,
  SessionStat,
  Status,
  TRACE_BYTES,
} from "../../host/abi.ts";
import { decodeEvents } from "../../gateway/event-log.ts";
import { messageOf } from "../../host/message.ts";
import { decodeTraceBytes } from "../../host/trace.ts";

const KEY = new TextEncoder().encode("core-api-test-key-0123456789abcd");

let now = 1_000_000;
function end(role: Role): QnCore {
  const c = loadCore();
  c.setConfig(ConfigKey.ROLE, role);
  c.setConfig(ConfigKey.AUTH, AuthMode.FRAME_MAC);
  c.setKey(KEY);
  c.tick(now);
  c.journalOpen(c.storage.size);
  return c;
}

/** Move bytes both ways, `turns` times, 1 ms apart. */
function exchange(a: QnCore, b: QnCore, turns = 4): void {
  for (let i = 0; i < turns; i++) {
    now += 1000;
    a.tick(now);
    b.tick(now);
    b.rx(a.pull());
    a.rx(b.pull());
  }
}

function session(): { client: QnCore; server: QnCore } {
  const client = end(Role.CLIENT),
    server = end(Role.SERVER);
  client.connect();
  exchange(client, server);
  return { client, server };
}

const status = (f: () => unknown): number => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(QnError);
    return (e as QnError).status;
  }
  throw new Error("no QnError");
};

describe("QnCore session and messages", () => {
  it("brings a session up and moves a traced QoS 1 message and its acknowledgement", () => {
    const { client, server } = session();
    expect(client.sessionUp()).toBe(true);
    expect(server.sessionState()).toBe(SessionState.UP);
    expect(client.sessionWireId()).toBe(server.sessionWireId());
    expect(client.sessionStat(SessionStat.SESSIONS_UP)).toBe(1n);
    expect(client.getConfig(ConfigKey.ROLE)).toBe(Role.CLIENT);

    const trace = Uint8Array.from({ length: TRACE_BYTES }, (_, i) => (i === 0 ? 0 : i));
    const packet = client.publish(5, Qos.AT_LEAST_ONCE, Prio.BULK, Codec.NONE, Uint8Array.of(1, 2, 3), trace);
    expect(packet).toBeGreaterThan(0);
    expect(client.qosStat(QosStat.IN_FLIGHT)).toBe(1);
    expect(client.txPending(Prio.BULK)).toBe(1);
    exchange(client, server, 2);
    const f = server.inboxPop()!;
    expect(f.type).toBe(FrameType.DATA);
    expect(f.channel).toBe(5);
    expect(f.packet).toBe(packet);
    expect(f.flags & Flag.TRACE).toBe(Flag.TRACE);
    expect([...f.payload]).toEqual([...trace, 1, 2, 3]);
    // As a Message: the trace context split off the payload.
    const m = messageOf(f)!;
    expect([...m.payload]).toEqual([1, 2, 3]);
    expect(m.trace).not.toBeNull();
    expect(m.trace).toEqual(decodeTraceBytes(trace));
    expect([m.channel, m.qos, m.prio, m.packet]).toEqual([5, Qos.AT_LEAST_ONCE, Prio.BULK, packet]);
    expect(messageOf({ ...f, type: FrameType.PING })).toBeNull();
    exchange(client, server, 2);
    expect(client.qosStat(QosStat.IN_FLIGHT)).toBe(0);
    expect(client.txInFlight()).toBe(0);
    expect(client.schedStat(SchedStat.BYTES_OUT)).toBeGreaterThan(0);
    expect(client.counter(Counter.FRAMES_OUT)).toBeGreaterThan(0);
  });

  it("returns a full window's refusal from tryPublish and throws it from publish", () => {
    const { client } = session();
    let r = 0;
    for (let i = 0; i < 100 && r >= 0; i++)
      r = client.tryPublish(1, Qos.AT_LEAST_ONCE, Prio.BULK, Codec.NONE, Uint8Array.of(i));
    expect(r).toBeLessThan(0);
    expect(status(() => client.publish(1, Qos.AT_LEAST_ONCE, Prio.BULK, Codec.NONE, Uint8Array.of(0)))).toBe(r);
  });

  it("disconnects, and a client resumes the session on connect", () => {
    const { client, server } = session();
    client.disconnect();
    expect(client.sessionUp()).toBe(false);
    client.connect();
    exchange(client, server);
    expect(client.sessionUp()).toBe(true);
    expect(client.sessionStat(SessionStat.RESUMED)).toBe(1n);
  });

  it("records a board event the device's log then reports", () => {
    const { client, server } = session();
    server.event(EventType.BOOT, 3);
    client.send({ type: FrameType.LOG_REQ, codec: Codec.PB });
    exchange(client, server, 2);
    const log = client.inboxPop()!;
    expect(log.type).toBe(FrameType.LOG);
    expect(decodeEvents(client, log.payload).some((e) => e.type === EventType.BOOT && e.code === 3)).toBe(true);
  });
});

describe("QnCore refusals and arguments", () => {
  it("throws a value the core refuses from setConfig, returns it from trySetConfig, keeps the old value", () => {
    const c = loadCore();
    c.setConfig(ConfigKey.BACKOFF_CAP_MS, 100);
    expect(c.trySetConfig(ConfigKey.BACKOFF_BASE_MS, 500)).toBeLessThan(0);
    expect(status(() => c.setConfig(ConfigKey.BACKOFF_BASE_MS, 500))).toBeLessThan(0);
    expect(c.getConfig(ConfigKey.BACKOFF_CAP_MS)).toBe(100);
    expect(c.getConfig(ConfigKey.BACKOFF_BASE_MS)).toBeLessThanOrEqual(100);
    expect(status(() => c.setConfig(ConfigKey.HEARTBEAT_MS, -1))).toBe(Status.ERR_ARG);
    // The message names the key as the caller wrote it, not only its number.
    expect(() => c.setConfig(ConfigKey.HEARTBEAT_MS, -1)).toThrow(/^config HEARTBEAT_MS \(2\): value/);
    expect(() => c.setConfig(ConfigKey.BACKOFF_BASE_MS, 500)).toThrow(/^config BACKOFF_BASE_MS \(\d+\) = 500: ERR_/);
  });

  it("checks keys, publish arguments, names and indexes before anything reaches the core", () => {
    const c = loadCore();
    expect(status(() => c.setKey(new Uint8Array(0)))).toBe(Status.ERR_ARG);
    expect(status(() => c.setKey(new Uint8Array(33)))).toBe(Status.ERR_ARG);
    expect(status(() => c.setKey("k" as unknown as Uint8Array))).toBe(Status.ERR_ARG);
    const p = (ch: number, q: number, pr: number, co: number, b: unknown, t?: unknown) => () =>
      c.publish(ch, q as Qos, pr as Prio, co as Codec, b as Uint8Array, t as Uint8Array);
    const one = Uint8Array.of(1);
    expect(status(p(256, 0, 2, 0, one))).toBe(Status.ERR_ARG);
    expect(status(p(1, 3, 2, 0, one))).toBe(Status.ERR_ARG);
    expect(status(p(1, 0, 3, 0, one))).toBe(Status.ERR_ARG);
    expect(status(p(1, 0, 2, 256, one))).toBe(Status.ERR_ARG);
    expect(status(p(1, 0, 2, 0, [1]))).toBe(Status.ERR_ARG);
    expect(status(p(1, 0, 2, 0, new Uint8Array(c.maxPayload + 1)))).toBe(Status.ERR_OVERSIZE);
    expect(status(p(1, 0, 2, 0, new Uint8Array(c.maxPayload - TRACE_BYTES + 1), new Uint8Array(TRACE_BYTES)))).toBe(
      Status.ERR_OVERSIZE,
    );
    expect(status(p(1, 0, 2, 0, one, new Uint8Array(TRACE_BYTES - 1)))).toBe(Status.ERR_ARG);
    expect(status(() => c.boardInfo(0, 0, "x".repeat(c.maxPayload + 1)))).toBe(Status.ERR_OVERSIZE);
    expect(status(() => c.boardInfo(-1, 0, "x"))).toBe(Status.ERR_ARG);
    expect(status(() => c.backoff(8))).toBe(Status.ERR_ARG);
    expect(status(() => c.txPending(3 as Prio))).toBe(Status.ERR_ARG);
    expect(status(() => c.event(EventType.BOOT, 2 ** 31))).toBe(Status.ERR_ARG);
    expect(status(() => c.journalOpen(-1))).toBe(Status.ERR_ARG);
    // The server role cannot start a handshake: the core's status, thrown.
    c.setConfig(ConfigKey.ROLE, Role.SERVER);
    expect(status(() => c.connect())).toBe(Status.ERR_ARG);
  });

  it("reports a journal it cannot open, and its figures once open", () => {
    const c = loadCore();
    expect(status(() => c.journalOpen(1024))).toBeLessThan(0);
    c.journalOpen(8192);
    expect(c.journalStat(JournalStat.SIZE)).toBe(8192);
  });
});

describe("QnCore identity and board", () => {
  it("names its build, features and codecs, and gives increasing ids", () => {
    const c = loadCore();
    const manifest = JSON.parse(readFileSync(join(ROOT, "build/manifest.json"), "utf8"));
    expect(c.buildId()).toBe(manifest.build_id >>> 0);
    expect(c.features() & Feature.PB).toBe(Feature.PB);
    expect(c.codecs() & (1 << Codec.PB)).toBe(1 << Codec.PB);
    const a = c.idNext(),
      b = c.idNext();
    expect(b).toBeGreaterThan(a);
    c.boardImage(0x1234, 4096);
    c.boardStack(512, 4096);
    c.boardTrap();
    expect(c.memoryBytes).toBe(65536);
    expect(c.backoff(0)).toEqual({ waitMs: 0, attempt: 0 });
    expect(c.nextPacket()).not.toBe(c.nextPacket());
  });
});
