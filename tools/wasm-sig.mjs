// Reads function signatures of a module's exports and the names of its
// imports straight from the binary (type, import, function, export
// sections): WebAssembly.Module.exports() gives names but not types.
const VT = { 0x7f: "i32", 0x7e: "i64", 0x7d: "f32", 0x7c: "f64" };

export function wasmSignatures(buf) {
  let p = 8;
  const u = () => {
    let r = 0,
      s = 0,
      b;
    do {
      b = buf[p++];
      r |= (b & 0x7f) << s;
      s += 7;
    } while (b & 0x80);
    return r >>> 0;
  };
  const str = () => {
    const n = u();
    const s = buf.subarray(p, p + n).toString("utf8");
    p += n;
    return s;
  };
  const types = [],
    funcs = [],
    imports = new Map(),
    exports = new Map();
  let importedFuncs = 0;
  while (p < buf.length) {
    const id = buf[p++];
    const size = u();
    const end = p + size;
    if (id === 1) {
      for (let n = u(); n--; ) {
        p++; // 0x60
        const params = [];
        for (let k = u(); k--; ) params.push(VT[buf[p++]]);
        const results = [];
        for (let k = u(); k--; ) results.push(VT[buf[p++]]);
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = u(); n--; ) {
        const mod = str(),
          name = str(),
          kind = buf[p++];
        if (kind === 0) {
          imports.set(`${mod}.${name}`, types[u()]);
          importedFuncs++;
        } else {
          imports.set(`${mod}.${name}`, { kind });
          p = end;
          break;
        }
      }
    } else if (id === 3) {
      for (let n = u(); n--; ) funcs.push(types[u()]);
    } else if (id === 7) {
      for (let n = u(); n--; ) {
        const name = str(),
          kind = buf[p++],
          idx = u();
        if (kind === 0) exports.set(name, idx < importedFuncs ? null : funcs[idx - importedFuncs]);
        else exports.set(name, { kind });
      }
    }
    p = end;
  }
  return { imports, exports };
}
