// The QoS retransmission timer (assembly/rto.ts) through the compiled core:
// RFC 6298's arithmetic on fed samples, the configured bounds, the backoff
// and its end, and the configuration checks of the bounds.
import { describe, it, expect } from "vitest";
import { loadCore } from "../../host/core.ts";
import { raw } from "../support/raw-core.ts";
import { ConfigKey, QosStat, Status } from "../../host/abi.ts";

function fresh() {
  const core = loadCore();
  const x = raw(core).x;
  const stat = (s: number) => Number(x.qn_qos_stat(s));
  return {
    x,
    rto: () => stat(QosStat.RTO_US),
    srtt: () => stat(QosStat.SRTT_US),
    rttvar: () => stat(QosStat.RTTVAR_US),
  };
}

describe("retransmission timer (RFC 6298)", () => {
  it("is the configured initial timeout until a round trip is measured", () => {
    const t = fresh();
    expect(t.rto()).toBe(t.x.qn_config_get(ConfigKey.RETX_MS) * 1000);
    expect(t.x.qn_config_set(ConfigKey.RETX_MS, 300)).toBe(0);
    expect(t.rto()).toBe(300_000);
    expect(t.srtt()).toBe(0);
  });

  it("takes SRTT = R, RTTVAR = R/2 from the first sample and smooths by 1/8 and 1/4 after", () => {
    const t = fresh();
    t.x.qn_config_set(ConfigKey.RTO_MIN_MS, 1);
    t.x.qn_rto_sample(40_000n);
    expect([t.srtt(), t.rttvar(), t.rto()]).toEqual([40_000, 20_000, 40_000 + 4 * 20_000]);
    t.x.qn_rto_sample(20_000n);
    // RTTVAR = 3/4 * 20000 + 1/4 * |40000 - 20000|; SRTT = 7/8 * 40000 + 1/8 * 20000
    expect([t.srtt(), t.rttvar()]).toEqual([37_500, 20_000]);
    expect(t.rto()).toBe(37_500 + 80_000);
    // A steady round trip shrinks the variation, down to the clock's
    // granularity (1 ms) as the margin.
    for (let i = 0; i < 200; i++) t.x.qn_rto_sample(20_000n);
    expect(t.srtt()).toBeLessThan(20_100);
    expect(t.rto()).toBe(t.srtt() + 1000);
  });

  it("holds the timeout within the configured bounds", () => {
    const t = fresh();
    expect(t.x.qn_config_set(ConfigKey.RTO_MIN_MS, 50)).toBe(0);
    expect(t.x.qn_config_set(ConfigKey.RTO_MAX_MS, 400)).toBe(0);
    t.x.qn_rto_sample(2_000n);
    expect(t.rto()).toBe(50_000);
    for (let i = 0; i < 50; i++) t.x.qn_rto_sample(900_000n);
    expect(t.rto()).toBe(400_000);
  });

  it("doubles at each expiry up to the max bound, and a new sample ends the backoff", () => {
    const t = fresh();
    t.x.qn_config_set(ConfigKey.RTO_MIN_MS, 1);
    t.x.qn_config_set(ConfigKey.RTO_MAX_MS, 1000);
    t.x.qn_rto_sample(10_000n);
    const base = t.rto();
    t.x.qn_rto_backoff();
    expect(t.rto()).toBe(2 * base);
    t.x.qn_rto_backoff();
    expect(t.rto()).toBe(4 * base);
    for (let i = 0; i < 20; i++) t.x.qn_rto_backoff();
    expect(t.rto()).toBe(1_000_000);
    t.x.qn_rto_sample(10_000n);
    expect(t.rto()).toBeLessThan(2 * base);
  });

  it("refuses bounds out of range or crossed, and keeps the last good ones", () => {
    const t = fresh();
    expect(t.x.qn_config_set(ConfigKey.RTO_MIN_MS, 0)).toBe(Status.ERR_ARG);
    expect(t.x.qn_config_set(ConfigKey.RTO_MAX_MS, 3_600_001)).toBe(Status.ERR_ARG);
    const max = t.x.qn_config_get(ConfigKey.RTO_MAX_MS);
    expect(t.x.qn_config_set(ConfigKey.RTO_MIN_MS, max + 1)).toBe(Status.ERR_ARG);
    const min = t.x.qn_config_get(ConfigKey.RTO_MIN_MS);
    expect(t.x.qn_config_set(ConfigKey.RTO_MAX_MS, min - 1)).toBe(Status.ERR_ARG);
    expect([t.x.qn_config_get(ConfigKey.RTO_MIN_MS), t.x.qn_config_get(ConfigKey.RTO_MAX_MS)]).toEqual([min, max]);
  });

  it("ignores a negative sample (a clock that went back)", () => {
    const t = fresh();
    t.x.qn_rto_sample(-5n);
    expect(t.srtt()).toBe(0);
    expect(t.rto()).toBe(t.x.qn_config_get(ConfigKey.RETX_MS) * 1000);
  });
});
