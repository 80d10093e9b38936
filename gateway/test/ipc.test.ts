// The primary-worker requests of a multi-process gateway (ipc.ts) over a
// pair of in-memory channels, and each worker's view of the config
// (worker-config.ts).
import { describe, it, expect } from "vitest";
import { EventEmitter } from "node:events";
import { Rpc, type Channel } from "../ipc.ts";
import { workerConfig, workerCount } from "../worker-config.ts";
import { defaultClientId } from "../bridge.ts";
import type { Config } from "../config.ts";
import { parseConfig } from "../config.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeDevKey } from "./helpers.ts";

/** Two ends: what one sends, the other receives (asynchronously, as IPC does). */
function pair(): [Channel & EventEmitter, Channel & EventEmitter] {
  const a = new EventEmitter() as Channel & EventEmitter & { peer?: EventEmitter; open: boolean };
  const b = new EventEmitter() as Channel & EventEmitter & { peer?: EventEmitter; open: boolean };
  a.open = b.open = true;
  a.send = (m: unknown) => {
    if (!a.open) throw new Error("channel closed");
    setImmediate(() => b.emit("message", structuredClone(m)));
  };
  b.send = (m: unknown) => {
    if (!b.open) throw new Error("channel closed");
    setImmediate(() => a.emit("message", structuredClone(m)));
  };
  return [a, b];
}

describe("ipc between the primary and its workers", () => {
  it("asks both ways: answers, a handler's error, an unknown operation, foreign messages ignored", async () => {
    const [p, w] = pair();
    const held = new Set(["a"]);
    const primary = new Rpc(p, { claim: (id) => `claimed ${id}` });
    const worker = new Rpc(w, {
      release: async (id) => held.delete(id as string),
      fail: () => {
        throw new Error("no such device");
      },
    });
    // prom-client's own messages share the channel.
    p.emit("message", { type: "prom-client:getMetricsReq", requestId: 1 });
    w.emit("message", null);
    expect(await primary.ask("release", "a")).toBe(true);
    expect(await primary.ask("release", "a")).toBe(false);
    expect(await worker.ask("claim", "b")).toBe("claimed b");
    await expect(primary.ask("fail")).rejects.toThrow("no such device");
    await expect(primary.ask("nope")).rejects.toThrow("no operation nope");
  });

  it("fails every open request when the other side is gone, and a send on a closed channel at once", async () => {
    const [p, w] = pair();
    const primary = new Rpc(p, {});
    new Rpc(w, { slow: () => new Promise(() => {}) });
    const open = primary.ask("slow");
    primary.closed("worker 1 exited");
    await expect(open).rejects.toThrow("worker 1 exited");
    (p as unknown as { open: boolean }).open = false;
    await expect(primary.ask("slow")).rejects.toThrow("channel closed");
  });
});

describe("a worker's view of the config", () => {
  const dir = mkdtempSync(join(tmpdir(), "qn-worker-config-"));
  writeDevKey(dir);
  const base = (extra = ""): Config =>
    parseConfig(
      `gateway: { spool: qn.spool${extra} }
mqtt: { url: "mqtt://127.0.0.1:1883" }
devices:
  - { id: p, transport: { tcp: { listen: "127.0.0.1:7000" } }, key_file: k.hex, journal: p.journal, channels: [] }
`,
      "<config>",
      dir,
    );

  it("has a spool and an MQTT client id of its own; the config's devices run in worker 0 only", () => {
    const c = base();
    expect(workerCount(c)).toBe(1);
    const w0 = workerConfig(c, 0),
      w1 = workerConfig(c, 1);
    expect([w0.gateway.spool, w1.gateway.spool]).toEqual([join(dir, "qn.spool.w0"), join(dir, "qn.spool.w1")]);
    expect(w1.mqtt.client_id).toBe(`${defaultClientId(c.mqtt)}-w1`);
    expect(w0.devices.map((d) => d.id)).toEqual(["p"]);
    expect(w1.devices).toEqual([]);
    expect(c.gateway.spool).toBe(join(dir, "qn.spool")); // the config itself is left as it is
    expect(workerCount(base(", workers: 3"))).toBe(3);
    expect(workerCount(base(", workers: auto"))).toBeGreaterThanOrEqual(1);
    expect(() => base(", workers: 0")).toThrow(/gateway\.workers: expected a value >= 1/);
    expect(() => base(", workers: many")).toThrow(/gateway\.workers: expected a number of worker processes/);
  });
});
