// The one raw door into a QnCore, for tests only: the Wasm export table
// (test exports such as qn_sha256, qn_pool_alloc, qn_msg_*; selectors a
// test sweeps past the named ones), the linear memory and the host scratch
// base. Product code never imports from test/ and uses QnCore's typed
// methods; a test that can say what it does with them should too.
import type { QnCore } from "../../host/core.ts";
import type { RawCore } from "../../host/core-exports.ts";

export type { CoreExports, RawCore } from "../../host/core-exports.ts";

const RAW_DOOR = Symbol.for("qn.test.raw-core");

/** The raw exports, memory and scratch base of `core`. */
export function raw(core: QnCore): RawCore {
  return (core as unknown as Record<symbol, () => RawCore>)[RAW_DOOR]();
}
