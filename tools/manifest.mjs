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
const manifest = {
  build_id: Number(buildId) >>> 0,
  wasm_crc32c: crc32c(bytes),
  wasm_bytes: bytes.length,
  heap_base: inst.exports.qn_heap_base(),
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
