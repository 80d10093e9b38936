// The file-backed mqtt.js incomingStore (gateway/incoming-store.ts) on its
// own: the mqtt.js Store contract, what a restart finds, a torn last line,
// a corrupt line, compaction, and a write that fails.
import { describe, it, expect } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync, existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import type { IPublishPacket } from "mqtt";
import { IncomingStore } from "../incoming-store.ts";

function logger() {
  const lines: any[] = [];
  return {
    lines,
    log: pino(
      { level: "trace" },
      {
        write: (s: string) => {
          lines.push(JSON.parse(s));
        },
      },
    ),
  };
}
const fresh = () => join(mkdtempSync(join(tmpdir(), "qn-incoming-")), "mqtt.spool.incoming");
const pkt = (id: number, body = `cmd-${id}`, props?: IPublishPacket["properties"]): IPublishPacket => ({
  cmd: "publish",
  qos: 2,
  dup: false,
  retain: false,
  messageId: id,
  topic: `qn/dev1/cmd`,
  payload: Buffer.from(body),
  properties: props,
});
const put = (s: IncomingStore, p: IPublishPacket) => new Promise<void>((r) => s.put(p, () => r()));
const get = (s: IncomingStore, id: number) =>
  new Promise<{ err?: Error; p?: any }>((r) => s.get({ messageId: id }, (err, p) => r({ err, p })));
const del = (s: IncomingStore, id: number) =>
  new Promise<{ err?: Error; p?: any }>((r) => s.del({ messageId: id }, (err, p) => r({ err, p })));

describe("IncomingStore", () => {
  it("keeps the mqtt.js Store contract, and the record is in the file before put calls back", async () => {
    const path = fresh(),
      { log } = logger();
    const s = new IncomingStore(path, log);
    let inFileAtCallback = false;
    await new Promise<void>((r) =>
      s.put(pkt(7), () => {
        inFileAtCallback = readFileSync(path, "utf8").includes(`"i":7`);
        r();
      }),
    );
    expect(inFileAtCallback).toBe(true);
    expect((await get(s, 7)).p.payload.toString()).toBe("cmd-7");
    expect((await get(s, 8)).err?.message).toBe("missing packet");
    await put(s, pkt(8));
    const streamed: any[] = [];
    for await (const p of s.createStream() as unknown as AsyncIterable<any>) streamed.push(p.messageId);
    expect(streamed).toEqual([7, 8]);
    expect((await del(s, 7)).p.messageId).toBe(7);
    expect((await del(s, 7)).err?.message).toBe("missing packet");
    expect((await get(s, 7)).err).toBeDefined();
    await del(s, 8);
    expect(statSync(path).size).toBe(0); // nothing held: the file starts over
    s.close(() => {});
  });

  it("gives a restarted gateway what was put and not deleted, properties and binary payload included", async () => {
    const path = fresh(),
      { log, lines } = logger();
    const a = new IncomingStore(path, log);
    const bin = Buffer.from([0, 1, 2, 0xff, 0x0a, 0x22]);
    const props = {
      userProperties: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
      correlationData: Buffer.from([9, 9]),
      contentType: "application/x",
    };
    await put(a, { ...pkt(1), payload: bin, properties: props });
    await put(a, pkt(2));
    await put(a, pkt(3));
    await del(a, 2);
    await put(a, pkt(3, "cmd-3 again")); // the broker resent the PUBLISH (PUBREC lost): the newer copy wins
    // No close(): a crash.
    const b = new IncomingStore(path, log);
    expect(b.packets().map((p) => p.messageId)).toEqual([1, 3]);
    const one = (await get(b, 1)).p;
    expect(Buffer.compare(one.payload, bin)).toBe(0);
    expect(one.properties).toEqual(props);
    expect(Buffer.isBuffer(one.properties.correlationData)).toBe(true);
    expect((await get(b, 3)).p.payload.toString()).toBe("cmd-3 again");
    expect(lines.some((l) => /wait for the broker's PUBREL/.test(l.msg) && l.commands === 2)).toBe(true);
    // close() leaves them there for the next start.
    await new Promise<void>((r) => b.close(() => r()));
    expect(new IncomingStore(path, log).packets().length).toBe(2);
  });

  it("ignores a torn last line and appends cleanly after it", async () => {
    const path = fresh(),
      { log, lines } = logger();
    const a = new IncomingStore(path, log);
    await put(a, pkt(1));
    appendFileSync(path, JSON.stringify({ i: 2, p: { cmd: "publish" } }).slice(0, 20)); // crash mid-write
    const b = new IncomingStore(path, log);
    expect(b.packets().map((p) => p.messageId)).toEqual([1]);
    expect(lines.some((l) => l.level === 40 && /torn last line/.test(l.msg))).toBe(true);
    expect(readFileSync(path, "utf8").endsWith("\n")).toBe(true); // the tail is gone from the file
    await put(b, pkt(2));
    expect(new IncomingStore(path, log).packets().map((p) => p.messageId)).toEqual([1, 2]);
    expect(existsSync(path + ".corrupt")).toBe(false);
  });

  it("skips corrupt records with a clear log line, keeps the rest and a copy of the file", () => {
    const path = fresh(),
      { log, lines } = logger();
    const good = (id: number) =>
      JSON.stringify({ i: id, p: { ...pkt(id), payload: { $b: Buffer.from(`c${id}`).toString("base64") } } });
    const text = [
      good(1),
      "garbage{",
      JSON.stringify({ i: 5, p: { cmd: "publish", qos: 2, messageId: 5 } }),
      `{"d":"x"}`,
      good(2),
      "",
    ].join("\n");
    writeFileSync(path, text);
    const s = new IncomingStore(path, log);
    expect(s.packets().map((p) => [p.messageId, p.payload.toString()])).toEqual([
      [1, "c1"],
      [2, "c2"],
    ]);
    const errs = lines.filter((l) => l.level === 50);
    expect(errs.filter((l) => /unreadable record skipped/.test(l.msg)).map((l) => l.line)).toEqual([2, 3, 4]);
    expect(errs.some((l) => /corrupt file; continuing/.test(l.msg) && l.skipped === 3 && l.kept === 2)).toBe(true);
    expect(readFileSync(path + ".corrupt", "utf8")).toBe(text);
    expect(new IncomingStore(path, log).packets().length).toBe(2); // rewritten clean
  });

  it("refuses a directory in its place, naming it; survives a failed write without throwing, and does not acknowledge what it could not save", async () => {
    const { log, lines } = logger();
    const dirAsFile = mkdtempSync(join(tmpdir(), "qn-incoming-dir-"));
    expect(() => new IncomingStore(dirAsFile, log)).toThrow(`${dirAsFile} is a directory, not an incoming store file`);
    const failed: Error[] = [];
    const s2 = new IncomingStore(join(tmpdir(), "qn-no-such-dir", "x", "mqtt.spool.incoming"), log, (e) =>
      failed.push(e),
    );
    let acked = false;
    s2.put(pkt(4), () => {
      acked = true;
    });
    expect(acked).toBe(false);
    expect(failed.length).toBe(1);
    expect(lines.some((l) => /not acknowledging it/.test(l.msg) && l.message_id === 4)).toBe(true);
    expect((await get(s2, 4)).err).toBeDefined();
  });

  it("rewrites the file when it grows large, keeping what is held", async () => {
    const path = fresh(),
      { log } = logger();
    const s = new IncomingStore(path, log);
    await put(s, pkt(1, "kept"));
    const big = "x".repeat(32 * 1024);
    let peak = 0;
    for (let id = 2; id < 60; id++) {
      await put(s, pkt(id, big));
      await del(s, id);
      peak = Math.max(peak, statSync(path).size);
    }
    expect(peak).toBeLessThan(1.2 * 1024 * 1024);
    // 58 records of ~44 KB went through a file that never passed ~1 MiB.
    expect(new IncomingStore(path, log).packets().map((p) => p.payload.toString())).toEqual(["kept"]);
  });

  it("release() deletes only the packet it is given, not a newer one under the same id", async () => {
    const path = fresh(),
      { log } = logger();
    const s = new IncomingStore(path, log);
    const old = pkt(9, "old");
    await put(s, old);
    await put(s, pkt(9, "new"));
    s.release(old);
    expect((await get(s, 9)).p.payload.toString()).toBe("new");
    s.release(s.packets()[0]);
    expect(s.packets()).toEqual([]);
  });
});
