// Reads the core's ABI from its AssemblyScript sources: the exports of
// assembly/index.ts (name, typed parameters, return type, doc comment), the
// imports declared in assembly/bindings/, and the status enum of
// assembly/status.ts. Shared by the C header generator and the host loader,
// so both ends take the ABI from one place.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const FN = /\/\*\*\s*([\s\S]*?)\s*\*\/\s*export function (\w+)\(([^)]*)\):\s*(\w+)/g;
const EXT = /\/\*\*\s*([\s\S]*?)\s*\*\/\s*@external\("(\w+)",\s*"(\w+)"\)\s*export declare function (\w+)\(([^)]*)\):\s*(\w+)/g;

function params(src) {
  return src.split(",").map((p) => p.trim()).filter(Boolean).map((p) => {
    const [name, type] = p.split(":").map((s) => s.trim());
    return { name, type };
  });
}

function clean(doc) {
  return doc.split("\n").map((l) => l.replace(/^\s*\*\s?/, "")).join(" ").replace(/\s+/g, " ").trim();
}

export function readExports(root) {
  const src = readFileSync(join(root, "assembly/index.ts"), "utf8");
  return [...src.matchAll(FN)].map((m) => ({ doc: clean(m[1]), name: m[2], params: params(m[3]), ret: m[4] }));
}

export function readImports(root) {
  const dir = join(root, "assembly/bindings");
  const out = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
    const src = readFileSync(join(dir, f), "utf8");
    for (const m of src.matchAll(EXT)) {
      out.push({ doc: clean(m[1]), module: m[2], name: m[3], params: params(m[5]), ret: m[6] });
    }
  }
  return out;
}

export function readStatus(root) {
  const src = readFileSync(join(root, "assembly/status.ts"), "utf8");
  return [...src.matchAll(/^\s*(\w+)\s*=\s*(-?\d+),\s*\/\/\s*(.*)$/gm)].map((m) => ({
    name: m[1], value: Number(m[2]), message: m[3].trim(),
  }));
}
