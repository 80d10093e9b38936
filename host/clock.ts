// The host's monotonic microsecond clock (never steps with wall time).
const t0 = process.hrtime.bigint();
export function nowUs(): bigint {
  return (process.hrtime.bigint() - t0) / 1000n;
}
