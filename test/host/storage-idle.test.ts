// A FileStorage that closes its descriptor while everything is on disk
// (closeWhenIdle: the gateway's fleet journals, thousands of them idle):
// writes still reach the file, the descriptor is held only while a write
// waits for its flush, and a path replaced by another file meanwhile is
// not written to.
import { describe, it, expect } from "vitest";
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStorage } from "../../host/storage.ts";

const openOn = (path: string) =>
  readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false;
    }
  }).length;

describe("FileStorage closeWhenIdle", () => {
  it("holds no descriptor while idle and writes what it is given", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qn-idle-"));
    const path = join(dir, "j");
    const s = new FileStorage(path, 4096, { groupCommit: true, closeWhenIdle: true });
    expect(openOn(path)).toBe(0);
    s.write(100, Uint8Array.of(1, 2, 3));
    await s.syncAsync();
    await Promise.resolve();
    expect(openOn(path)).toBe(0);
    expect([...readFileSync(path).subarray(100, 103)]).toEqual([1, 2, 3]);
    const held = new FileStorage(join(dir, "k"), 4096, { groupCommit: true });
    expect(openOn(join(dir, "k"))).toBe(1); // the default keeps it
    held.close();
    s.close();
  });

  it("refuses to write to another file put in its place", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qn-idle-"));
    const path = join(dir, "j");
    const s = new FileStorage(path, 4096, { groupCommit: true, closeWhenIdle: true });
    writeFileSync(join(dir, "other"), Buffer.alloc(4096, 7));
    renameSync(join(dir, "other"), path);
    s.write(0, Uint8Array.of(0));
    await expect(s.syncAsync()).rejects.toThrow(/replaced by another file/);
    expect(readFileSync(path)[0]).toBe(7);
  });
});

describe("FileStorage without a mirror", () => {
  it("reads, writes (NOR: AND), erases and flushes as the mirrored one does, op for op", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qn-nomirror-"));
    const SIZE = 8192;
    const a = new FileStorage(join(dir, "a"), SIZE, { groupCommit: true });
    const b = new FileStorage(join(dir, "b"), SIZE, { groupCommit: true, closeWhenIdle: true, mirror: false });
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    for (let step = 0; step < 3000; step++) {
      const op = rnd(10);
      const off = rnd(SIZE);
      const len = Math.min(SIZE - off, 1 + rnd(300));
      if (op < 5) {
        const src = Uint8Array.from({ length: len }, () => rnd(256));
        expect(b.write(off, src)).toBe(a.write(off, src));
      } else if (op < 6) {
        expect(b.erase(off, len)).toBe(a.erase(off, len));
      } else if (op < 9) {
        const x = new Uint8Array(len),
          y = new Uint8Array(len);
        expect(b.read(off, y)).toBe(a.read(off, x));
        expect(y).toEqual(x);
      } else {
        await Promise.all([a.syncAsync(), b.syncAsync()]);
      }
    }
    await Promise.all([a.syncAsync(), b.syncAsync()]);
    expect(readFileSync(join(dir, "b"))).toEqual(readFileSync(join(dir, "a")));
    expect(b.read(-1, new Uint8Array(1))).toBe(a.read(-1, new Uint8Array(1)));
    expect(b.write(SIZE - 1, new Uint8Array(2))).toBe(a.write(SIZE - 1, new Uint8Array(2)));
    a.close();
    b.close();
  });
});
