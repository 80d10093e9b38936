// The device event log merged into the gateway's log: each record once
// (by LSN), across polls, reconnections and a gateway restart; a ring that
// overflowed and a log that started again are reported. First the merge on
// its own, then a gateway with mosquitto and an emulated device over TCP.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { writeFileSync, readFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { Gateway } from "../gateway.ts";
import { EventMerger, type DeviceEvent } from "../event-log.ts";
import { EventType } from "../../host/abi.ts";
import { startDevice, Mosquitto, type TcpDevice, freePort, sleep, until, writeDevKey } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "qn-events-"));

function capture() {
  const lines: any[] = [];
  return {
    lines,
    log: pino(
      { level: "debug" },
      {
        write: (s: string) => {
          lines.push(JSON.parse(s));
        },
      },
    ),
  };
}
const ev = (seq: number, type: number = EventType.LINK_UP): DeviceEvent => ({
  seq,
  time_us: seq * 1000,
  type,
  event: `t${type}`,
  code: 0,
});

describe("EventMerger", () => {
  it("writes each record once, in LSN order, however often the same ring comes back", async () => {
    const { lines, log } = capture();
    let ring = [ev(1), ev(2), ev(3)];
    const m = new EventMerger(join(dir, "a.events"), log, async () => ring);
    await m.poll();
    await m.poll();
    ring = [ev(2), ev(3), ev(4, EventType.TRAP)];
    await Promise.all([m.poll(), m.poll(), m.poll()]); // concurrent polls write nothing twice
    const written = lines.filter((l) => l.msg === "device event");
    expect(written.map((l) => l.lsn)).toEqual([1, 2, 3, 4]);
    expect(written[3]).toMatchObject({ level: 40, type: EventType.TRAP, device_time_us: 4000 }); // a trap is a warning
    expect(m.polls).toBe(5);
  });

  it("keeps the last LSN across a restart, and reports a log that started again or lost records", async () => {
    const file = join(dir, "b.events");
    const first = capture();
    await new EventMerger(file, first.log, async () => [ev(7), ev(8)]).poll();
    expect(readFileSync(file, "utf8").trim()).toBe("8");
    // A new gateway process: 7 and 8 are not written again.
    const { lines, log } = capture();
    let ring = [ev(7), ev(8), ev(9)];
    const m = new EventMerger(file, log, async () => ring);
    await m.poll();
    expect(lines.filter((l) => l.msg === "device event").map((l) => l.lsn)).toEqual([9]);
    // 12 slots: 10..13 fell out of the ring before this fetch.
    ring = Array.from({ length: 12 }, (_, i) => ev(14 + i));
    await m.poll();
    expect(lines.find((l) => l.msg.includes("lost"))).toMatchObject({ from_lsn: 10, to_lsn: 13, lost: 4 });
    // The device's journal was wiped: its LSNs start again at 1.
    ring = [ev(1), ev(2)];
    await m.poll();
    expect(lines.some((l) => l.msg.includes("started again"))).toBe(true);
    expect(
      lines
        .filter((l) => l.msg === "device event")
        .map((l) => l.lsn)
        .slice(-2),
    ).toEqual([1, 2]);
    expect(m.last).toBe(2);
  });

  it("rejects a failed fetch without writing, and the next poll catches up", async () => {
    const { lines, log } = capture();
    let fail = true;
    const m = new EventMerger(join(dir, "c.events"), log, async () => {
      if (fail) throw new Error("not connected");
      return [ev(1)];
    });
    await expect(m.poll()).rejects.toThrow(/not connected/);
    fail = false;
    await m.poll();
    expect(lines.filter((l) => l.msg === "device event").map((l) => l.lsn)).toEqual([1]);
  });

  it("ignores a state file it cannot read as an LSN", async () => {
    const file = join(dir, "d.events");
    writeFileSync(file, "garbage\n");
    const { lines, log } = capture();
    await new EventMerger(file, log, async () => [ev(1)]).poll();
    expect(lines.filter((l) => l.msg === "device event")).toHaveLength(1);
  });
});

describe("device event log in the gateway log", () => {
  let broker: Mosquitto, gw: Gateway, dev: TcpDevice;
  const cfg = join(dir, "gateway.yaml");
  let cap = capture();
  const events = () => cap.lines.filter((l) => l.msg === "device event" && l.device === "dev1");

  beforeAll(async () => {
    const ports = { broker: await freePort(), dev: await freePort() };
    broker = new Mosquitto(ports.broker);
    await broker.start();
    writeDevKey(dir);
    const text = (hb: number) => `gateway: { spool: mqtt.spool }
mqtt: { url: "mqtt://127.0.0.1:${ports.broker}" }
devices:
  - id: dev1
    transport: { tcp: { listen: "127.0.0.1:${ports.dev}" } }
    key_file: k.hex
    journal: dev1.journal
    heartbeat_ms: ${hb}
    event_poll_ms: 200
`;
    writeFileSync(cfg, text(200));
    writeFileSync(join(dir, "gateway-2.yaml"), text(250));
    gw = Gateway.fromFile(cfg, { log: cap.log });
    await gw.start({ ops: false });
    dev = await startDevice(gw, "dev1", ports.dev, join(dir, "k.hex"));
  }, 30000);

  afterAll(async () => {
    await dev?.stop();
    await gw?.stop();
    await broker?.stop();
  });

  it("writes the device's records once each as the link comes up, is cut, and comes back, and after a config push", async () => {
    await until("link up record", () => events().some((l) => l.event === "link up"), 5000);
    const link = gw.links.get("dev1")!;
    const polls = link.events.polls;
    await sleep(1000);
    expect(link.events.polls).toBeGreaterThan(polls + 2); // polled every 200 ms, nothing new written
    // A pushed config: the device records it, the gateway writes it once.
    const r = await gw.reload(join(dir, "gateway-2.yaml"));
    expect(r.pushed).toEqual(["dev1"]);
    await until("config applied record", () => events().some((l) => l.event === "config applied"), 5000);
    // The device loses its connection and redials: it records the link
    // going down and up; the gateway writes both after the new session.
    const connects = dev.connects;
    await dev.t!.close();
    await until("reconnected", () => dev.connects > connects && dev.up && link.state === "up", 10000);
    await until("second link up record", () => events().filter((l) => l.event === "link up").length >= 2, 5000);
    await sleep(600);
    const lsns = events().map((l) => l.lsn);
    expect(new Set(lsns).size).toBe(lsns.length); // never twice
    expect(lsns).toEqual([...lsns].sort((a, b) => a - b)); // in LSN order
    // Everything in the device's ring is in our log, with name and time.
    const ring = await link.eventLog();
    for (const e of ring)
      expect(events().find((l) => l.lsn === e.seq)).toMatchObject({
        event: e.event,
        device_time_us: e.time_us,
        code: e.code,
      });
    expect(events().length).toBe(ring.length); // the ring (12 slots) has not overflowed yet
    const m = await gw.metrics.registry.getSingleMetricAsString("qn_device_events_total");
    expect(m).toMatch(/qn_device_events_total\{device="dev1",event="link up"\} [2-9]/);
  }, 30000);

  it("does not write the ring again after a gateway restart", async () => {
    const before = events().map((l) => l.lsn);
    await gw.stop();
    cap = capture();
    gw = Gateway.fromFile(cfg, { log: cap.log });
    await gw.start({ ops: false });
    // The device redials the new gateway: one new session, one new record.
    await until("link up again", () => dev.up && gw.links.get("dev1")!.state === "up", 15000);
    await until("new link up record", () => events().some((l) => l.event === "link up"), 5000);
    await sleep(600);
    const after = events().map((l) => l.lsn);
    expect(after.every((n) => n > Math.max(...before))).toBe(true);
  }, 30000);
});
