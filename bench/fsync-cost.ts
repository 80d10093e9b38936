// What one write + fdatasync costs this machine in CPU (this process,
// its thread pool included), the unit the gateway pays per flush round:
// appended (the spool: the file grows, so the file system commits its
// metadata too) and overwritten in place (a journal, a pack slot), each on
// the thread pool as the gateway does it and on the calling thread.
//   node --import tsx bench/fsync-cost.ts [--n 1000] [--bytes 6000]
import { closeSync, fdatasync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const N = arg("--n", 1000);
const BYTES = arg("--bytes", 6000);

async function run(how: "append" | "overwrite", pool: boolean) {
  const dir = mkdtempSync(join(tmpdir(), "qn-fsync-"));
  const fd = openSync(join(dir, "f"), "w+");
  const buf = Buffer.alloc(BYTES, 0x41);
  if (how === "overwrite") {
    writeSync(fd, Buffer.alloc(N * BYTES), 0, N * BYTES, 0);
    fdatasyncSync(fd);
  }
  const c0 = process.cpuUsage(),
    t0 = performance.now();
  for (let i = 0; i < N; i++) {
    writeSync(fd, buf, 0, BYTES, i * BYTES);
    if (pool) await new Promise<void>((r, j) => fdatasync(fd, (e) => (e ? j(e) : r())));
    else fdatasyncSync(fd);
  }
  const c = process.cpuUsage(c0);
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  return {
    how,
    on: pool ? "thread pool" : "calling thread",
    wall_us: Math.round(((performance.now() - t0) * 1000) / N),
    cpu_us: Math.round((c.user + c.system) / N),
    sys_us: Math.round(c.system / N),
  };
}

const rows = [];
for (const how of ["append", "overwrite"] as const) for (const pool of [true, false]) rows.push(await run(how, pool));
console.log(JSON.stringify({ n: N, bytes: BYTES, rows }, null, 2));
console.error(`| write of ${BYTES} B + fdatasync | on | wall µs | CPU µs | of it kernel |\n|---|---|---|---|---|`);
for (const r of rows) console.error(`| ${r.how} | ${r.on} | ${r.wall_us} | ${r.cpu_us} | ${r.sys_us} |`);
