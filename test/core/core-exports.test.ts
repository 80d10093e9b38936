// host/core-exports.ts types the core's Wasm exports by hand for the core
// wrapper; this holds it to their one definition, assembly/index.ts (read by
// tools/abi-source.mjs, as the C header's generator reads it) and to the
// built module: the same names, the same parameters, bigint exactly where
// the core takes or returns 64 bits.
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../host/status.ts";
import { loadModule } from "../../host/core.ts";
import { readExports } from "../../tools/abi-source.mjs";

interface Sig {
  params: string[];
  ret: string;
}

/** The members of `interface CoreExports` as name -> JS parameter and return types. */
function typedExports(): Map<string, Sig> {
  const src = readFileSync(join(ROOT, "host/core-exports.ts"), "utf8");
  const body = /export interface CoreExports \{([\s\S]*?)\n\}/.exec(src)![1];
  const out = new Map<string, Sig>();
  for (const m of body.matchAll(/(qn_\w+)\(([^)]*)\):\s*(\w+);/g)) {
    const params = m[2]
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p) => p.split(":")[1].trim());
    out.set(m[1], { params, ret: m[3] });
  }
  return out;
}

const js = (asType: string) => (asType === "void" ? "void" : /^[iu]64$/.test(asType) ? "bigint" : "number");

describe("host/core-exports.ts", () => {
  const typed = typedExports();

  it("names every export of assembly/index.ts with its parameters and return type", () => {
    const src = readExports(ROOT);
    expect(src.length).toBeGreaterThan(50);
    expect([...typed.keys()].sort()).toEqual(src.map((e) => e.name).sort());
    for (const e of src)
      expect(typed.get(e.name), e.name).toEqual({
        params: e.params.map((p: { type: string }) => js(p.type)),
        ret: js(e.ret),
      });
  });

  it("matches the built module's exports and their arity", () => {
    const inst = new WebAssembly.Instance(loadModule(), {
      env: new Proxy({}, { get: () => () => 0 }),
    });
    const fns = Object.entries(inst.exports).filter(([, v]) => typeof v === "function");
    expect(fns.map(([k]) => k).sort()).toEqual([...typed.keys()].sort());
    for (const [name, f] of fns)
      expect((f as (...a: unknown[]) => unknown).length, name).toBe(typed.get(name)!.params.length);
  });
});
