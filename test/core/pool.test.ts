// Static block pools: exhaustion is a status, frees restore counts, a double
// or foreign free is refused, high water is kept.
import { describe, it, expect } from "vitest";
import { loadCore } from "../../host/core.ts";
import { Status } from "../../host/status.ts";
import { raw } from "../support/raw-core.ts";

describe("pools", () => {
  it("allocates to exhaustion without trapping, then frees back to zero", () => {
    const core = loadCore();
    const x = raw(core).x;
    expect(core.poolCount).toBe(2);
    const small = core.pool(0),
      large = core.pool(1);
    expect(small.inUse + large.inUse).toBe(0);
    const got: number[] = [];
    for (;;) {
      const b = x.qn_pool_alloc(small.blockSize);
      if (b === 0) break;
      got.push(b);
    }
    // Small requests fall back to the large pool when the small one is empty.
    expect(got.length).toBe(small.count + large.count);
    expect(new Set(got).size).toBe(got.length);
    expect(core.pool(0).inUse).toBe(small.count);
    expect(core.pool(1).inUse).toBe(large.count);
    expect(core.pool(1).failures).toBeGreaterThan(0);
    expect(x.qn_pool_alloc(1)).toBe(0);
    for (const b of got) expect(x.qn_pool_free(b)).toBe(Status.OK);
    expect(core.pool(0).inUse).toBe(0);
    expect(core.pool(1).inUse).toBe(0);
    expect(core.pool(0).highWater).toBe(small.count);
    // Everything is allocatable again.
    const again = x.qn_pool_alloc(small.blockSize);
    expect(again).not.toBe(0);
    expect(x.qn_pool_free(again)).toBe(Status.OK);
  });

  it("refuses a request larger than any block", () => {
    const core = loadCore();
    expect(raw(core).x.qn_pool_alloc(core.pool(1).blockSize + 1)).toBe(0);
    expect(core.pool(0).inUse + core.pool(1).inUse).toBe(0);
  });

  it("refuses double, misaligned and foreign frees with a status", () => {
    const core = loadCore();
    const x = raw(core).x;
    const b = x.qn_pool_alloc(10);
    expect(x.qn_pool_free(b)).toBe(Status.OK);
    expect(x.qn_pool_free(b)).toBe(Status.ERR_DOUBLE_FREE);
    const c = x.qn_pool_alloc(10);
    expect(x.qn_pool_free(c + 4)).toBe(Status.ERR_DOUBLE_FREE);
    expect(x.qn_pool_free(0)).toBe(Status.ERR_DOUBLE_FREE);
    expect(x.qn_pool_free(0x7ffffff0)).toBe(Status.ERR_DOUBLE_FREE);
    expect(x.qn_pool_free(c)).toBe(Status.OK);
    expect(core.pool(0).inUse).toBe(0);
  });
});
