// A small deterministic xorshift32 generator: reproducible fault injection
// and test data (never for keys or nonces: those come from qn_entropy).
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}
