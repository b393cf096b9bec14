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

/**
 * One edit as a user makes it, at a random place: a snippet typed or pasted, a few
 * characters deleted, a line deleted or duplicated, a line's indentation changed.
 */
export function randomEdit(g: ReturnType<typeof seeded>, text: string, snippets: readonly string[]): string {
  const at = g.between(0, text.length);
  const lineStart = text.lastIndexOf('\n', at - 1) + 1;
  const lineEnd = text.indexOf('\n', at) < 0 ? text.length : text.indexOf('\n', at) + 1;
  switch (g.between(0, 5)) {
    case 0:
    case 1:
      return text.slice(0, at) + g.pick(snippets) + text.slice(at);
    case 2:
      return text.slice(0, at) + text.slice(Math.min(text.length, at + g.between(1, 3)));
    case 3:
      return text.slice(0, lineStart) + text.slice(lineEnd);
    case 4:
      return text.slice(0, lineEnd) + text.slice(lineStart, lineEnd) + text.slice(lineEnd);
    default:
      return text.slice(0, lineStart) + g.pick(['', '  ', ' ']) + text.slice(lineStart).replace(/^ {0,2}/, '');
  }
}
