/** A small deterministic generator (an LCG), so seeded tests and benches cover the same texts every run. */
export function seeded(seed: number) {
  let state = seed;
  /** The next raw value, 0 to 2^31 - 1. */
  const next = () => (state = (state * 1103515245 + 12345) & 0x7fffffff);
  const random = () => next() / 0x7fffffff;
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  return { next, random, between, pick };
}
