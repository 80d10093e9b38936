// Snowflake ids (assembly/ids.ts) carry the node of config key 9 and stay
// unique across reboots: the journal keeps a lease on the time part, and a
// boot goes on past it; without a journal a boot starts at a random point.
// Session ids are made by the same generator, so they differ across links
// and across reboots of one device.
import { describe, it, expect } from "vitest";
import { loadCore, type QnCore } from "../../host/core.ts";
import { MemoryStorage } from "../../host/storage.ts";
import { Link } from "./harness.ts";
import { ConfigKey, SessionStat } from "../../host/abi.ts";

const node = (id: bigint) => Number((id >> 12n) & 0x3ffn);

function boot(storage?: MemoryStorage, nowUs = 0n): QnCore {
  const core = loadCore({ storage: storage ?? new MemoryStorage(8192) });
  core.tick(nowUs);
  if (storage) core.journalOpen(storage.size);
  return core;
}

const ids = (core: QnCore, n: number) => Array.from({ length: n }, () => core.idNext());

describe("ids", () => {
  it("carry the node set by config key 9, on two cores with two nodes", () => {
    const a = boot(new MemoryStorage(8192)),
      b = boot(new MemoryStorage(8192));
    a.setConfig(ConfigKey.NODE, 17);
    b.setConfig(ConfigKey.NODE, 900);
    const ia = ids(a, 500),
      ib = ids(b, 500);
    expect(new Set(ia.map(node))).toEqual(new Set([17]));
    expect(new Set(ib.map(node))).toEqual(new Set([900]));
    expect(new Set([...ia, ...ib]).size).toBe(1000);
  });

  it("go on past every id of the boot before, and keep the node, across a reset with a journal", () => {
    const storage = new MemoryStorage(8192);
    let core = boot(storage);
    core.setConfig(ConfigKey.NODE, 42);
    const before: bigint[] = [];
    // Forty minutes of the clock in 10 s steps: the lease is renewed as it goes.
    for (let t = 0n; t <= 2_400_000_000n; t += 10_000_000n) {
      core.tick(t);
      before.push(...ids(core, 3));
    }
    const last = before[before.length - 1];
    // Power cut; the clock starts again near 0.
    core = boot(storage, 5_000n);
    expect(core.getConfig(ConfigKey.NODE)).toBe(42);
    const after = ids(core, 100);
    expect(after.every((id) => id > last)).toBe(true);
    expect(new Set(after.map(node))).toEqual(new Set([42]));
    expect(new Set([...before, ...after]).size).toBe(before.length + after.length);
  });

  it("differ across boots without a journal (a random start per boot)", () => {
    const seen = new Set<bigint>();
    for (let boots = 0; boots < 50; boots++) {
      const core = loadCore();
      core.tick(1_000n);
      for (const id of ids(core, 20)) seen.add(id);
    }
    expect(seen.size).toBe(50 * 20);
  });

  it("make session ids that differ across 100 devices booted together, on the wire too", () => {
    const full = new Set<bigint>(),
      wire = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const l = new Link({ role: 1, auth: 1 }, { role: 0, auth: 1, seed: 1000 + i });
      l.connect();
      full.add(BigInt.asUintN(64, l.b.core.sessionStat(SessionStat.ID)));
      // The session id a frame carries, as the host receives it.
      l.a.drain = () => {};
      l.b.publish(1, 0, Uint8Array.of(1));
      l.run(5);
      const f = l.a.core.inboxPop();
      expect(f?.type).toBe(0x10);
      wire.add(f!.session);
      expect(l.b.core.sessionWireId()).toBe(f!.session);
    }
    expect(full.size).toBe(100);
    expect(wire.size).toBe(100);
  });

  it("make a new session id after a device reset, however soon", () => {
    const l = new Link({ role: 1, auth: 1 }, { role: 0, auth: 1 });
    l.connect();
    const id = () => BigInt.asUintN(64, l.b.core.sessionStat(SessionStat.ID));
    const sessions = new Set<bigint>([id()]),
      wire = new Set<number>([l.b.core.sessionWireId()]);
    for (let r = 0; r < 5; r++) {
      l.b.reset();
      l.run(2000, () => l.a.up && l.b.up);
      sessions.add(id());
      wire.add(l.b.core.sessionWireId());
    }
    expect(sessions.size).toBe(6);
    // The id frames carry and the gateway logs tells the six apart too.
    expect(wire.size).toBe(6);
  });
});
