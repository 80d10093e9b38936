// Routes AssemblyScript's abort() (failed assert, out-of-range array index)
// to the shell without the UTF-16 message strings: only the source line and
// column cross the boundary, then the core traps so no state after the fault
// is trusted. Wired in with `asc --use abort=assembly/abort/qn_abort`.
import { host_panic } from "./bindings/env";

export function qn_abort(msg: string | null, file: string | null, line: u32, col: u32): void {
  host_panic(<i32>line, <i32>col);
  unreachable();
}
