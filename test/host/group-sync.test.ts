// Group commit (host/group-sync.ts, FileStorage with groupCommit, the
// gateway spool): one fsync covers every write made before it, callers that
// arrive meanwhile share it, and nothing resolves before its writes are
// covered by a completed fsync.
import { describe, it, expect } from "vitest";
import { mkdtempSync, rmSync, openSync, writeSync, closeSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GroupSync } from "../../host/group-sync.ts";
import { FileStorage } from "../../host/storage.ts";

describe("group commit", () => {
  it("shares one fsync among the writers waiting for it and resolves only after a covering fsync", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qn-gs-"));
    const fd = openSync(join(dir, "f"), "w");
    try {
      const g = new GroupSync(() => fd);
      expect(g.clean).toBe(true);
      await g.sync(); // nothing written: no fsync
      expect(g.fsyncs).toBe(0);
      const waits: Promise<void>[] = [];
      for (let i = 0; i < 50; i++) {
        writeSync(fd, Buffer.alloc(16, i));
        g.wrote();
        waits.push(g.sync());
      }
      expect(g.clean).toBe(false);
      await Promise.all(waits);
      expect(g.clean).toBe(true);
      // The first caller started an fsync; the 49 behind it share the next.
      expect(g.fsyncs).toBeGreaterThanOrEqual(1);
      expect(g.fsyncs).toBeLessThanOrEqual(2);
      // A write after an fsync started is not covered by it.
      writeSync(fd, Buffer.alloc(16, 1));
      g.wrote();
      const first = g.sync();
      writeSync(fd, Buffer.alloc(16, 2));
      g.wrote();
      const second = g.sync();
      await first;
      await second;
      expect(g.clean).toBe(true);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("FileStorage: every write fsync'd by default, one fsync per batch with groupCommit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qn-gs-"));
    try {
      const each = new FileStorage(join(dir, "a"), 4096);
      const before = each.fsyncs;
      for (let i = 0; i < 10; i++) expect(each.write(i * 16, Buffer.alloc(16, 0x5a))).toBe(0);
      expect(each.fsyncs - before).toBe(10);
      each.close();
      const group = new FileStorage(join(dir, "b"), 4096, { groupCommit: true });
      const g0 = group.fsyncs;
      for (let i = 0; i < 10; i++) expect(group.write(i * 16, Buffer.alloc(16, 0x5a))).toBe(0);
      expect(group.fsyncs - g0).toBe(0);
      await group.syncAsync();
      expect(group.fsyncs - g0).toBe(1);
      const back = Buffer.alloc(16);
      group.read(9 * 16, back);
      expect([...back]).toEqual(new Array(16).fill(0x5a));
      group.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("FileStorage with groupCommit: reads see writes at once, the file only after a sync, a reopen sees what was synced", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qn-gs-"));
    try {
      const path = join(dir, "j");
      const s = new FileStorage(path, 4096, { groupCommit: true });
      expect(s.write(100, Buffer.from([0x12, 0x34]))).toBe(0);
      const back = Buffer.alloc(2);
      s.read(100, back);
      expect([...back]).toEqual([0x12, 0x34]); // NOR rule on the mirror: 0xFF & value
      expect([...readFileSync(path).subarray(100, 102)]).toEqual([0xff, 0xff]); // not written yet: write-behind
      await s.syncAsync();
      expect([...readFileSync(path).subarray(100, 102)]).toEqual([0x12, 0x34]);
      expect(s.erase(0, 1024)).toBe(0);
      expect(s.write(2000, Buffer.from([0x0f]))).toBe(0);
      s.close(); // flushes what is queued
      const again = new FileStorage(path, 4096, { groupCommit: true });
      const b2 = Buffer.alloc(1);
      again.read(100, b2);
      expect(b2[0]).toBe(0xff); // erased
      again.read(2000, b2);
      expect(b2[0]).toBe(0x0f);
      expect(again.write(-1, Buffer.alloc(1))).toBeLessThan(0);
      expect(again.write(4095, Buffer.alloc(2))).toBeLessThan(0);
      again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
