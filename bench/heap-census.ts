// A census of a V8 heap snapshot: self size and count per (type, name),
// largest first, so objects that come once per link (count ~N) stand out.
// Used for bench/README.md 4b's per-link memory: take a snapshot of the
// gateway under bench/scale.ts (NODE_OPTIONS="--heapsnapshot-signal=SIGUSR2
// --diagnostic-dir=DIR" on the bench, then kill -USR2 <gateway pid> while
// the links are up), then:
//   node --max-old-space-size=3000 --import tsx bench/heap-census.ts DIR/Heap...heapsnapshot [rows]
import { readFileSync } from "node:fs";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

export function census(snap: Snapshot): { type: string; name: string; count: number; bytes: number }[] {
  const { node_fields: nf, node_types: nt } = snap.snapshot.meta;
  const width = nf.length,
    iType = nf.indexOf("type"),
    iName = nf.indexOf("name"),
    iSize = nf.indexOf("self_size");
  const rows = new Map<string, { type: string; name: string; count: number; bytes: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = nt[0][snap.nodes[i + iType]];
    // Strings and code by kind only; a Wasm export's function is named by
    // its index (digits), folded into one row.
    let name = /string$/.test(type) ? "(string)" : snap.strings[snap.nodes[i + iName]].slice(0, 60);
    if (/^\d+$/.test(name)) name = "(digits)";
    const key = `${type}\t${name}`;
    const r = rows.get(key) ?? { type, name, count: 0, bytes: 0 };
    r.count++;
    r.bytes += snap.nodes[i + iSize];
    rows.set(key, r);
  }
  return [...rows.values()].sort((a, b) => b.bytes - a.bytes);
}

if (process.argv[1]?.endsWith("heap-census.ts")) {
  const rows = census(JSON.parse(readFileSync(process.argv[2], "utf8")));
  const total = rows.reduce((a, r) => a + r.bytes, 0);
  console.log(`total self size ${(total / 1024).toFixed(0)} KiB`);
  for (const r of rows.slice(0, Number(process.argv[3] ?? 50)))
    console.log(`${(r.bytes / 1024).toFixed(0).padStart(8)} KiB ${String(r.count).padStart(8)}  ${r.type}  ${r.name}`);
}
