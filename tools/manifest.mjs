// Writes the build manifest of the core: what the selftest checks a device
// against (build id, module CRC and size, static memory, features).
import { readFileSync } from "node:fs";
import { crc32c } from "./crc32c.mjs";
const [wasmPath, buildId, features] = process.argv.slice(2);
const bytes = readFileSync(wasmPath);
const mod = new WebAssembly.Module(bytes);
// Only the static figures are read: every import may refuse.
const env = Object.fromEntries(WebAssembly.Module.imports(mod).map((i) => [i.name, () => -13]));
const inst = new WebAssembly.Instance(mod, { env });
/** Entries of the module's type section: how many function signatures
 *  the wasm2c runtime may be asked to register (qn_wasm_rt.c sizes its
 *  table from this, through qn_linear_mem.h). */
function funcTypes(b) {
  const leb = (at) => {
    let v = 0,
      shift = 0,
      n = 0;
    for (;;) {
      const x = b[at + n++];
      v |= (x & 0x7f) << shift;
      shift += 7;
      if (!(x & 0x80)) return [v >>> 0, n];
    }
  };
  for (let at = 8; at < b.length; ) {
    const id = b[at];
    const [size, n] = leb(at + 1);
    if (id === 1) return leb(at + 1 + n)[0];
    at += 1 + n + size;
  }
  return 0;
}
const manifest = {
  build_id: Number(buildId) >>> 0,
  wasm_crc32c: crc32c(bytes),
  wasm_bytes: bytes.length,
  heap_base: inst.exports.qn_heap_base(),
  func_types: funcTypes(bytes),
  features: Object.fromEntries(
    features
      .split(" ")
      .filter(Boolean)
      .map((f) => {
        const [k, v] = f.split("=");
        return [k, Number(v)];
      }),
  ),
};
console.log(JSON.stringify(manifest, null, 2));
