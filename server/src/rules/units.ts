/**
 * Docker's byte sizes (go-units RAMInBytes): a number with an optional binary unit
 * b, k, m, g, t, p and an optional `i`/`b` suffix ("64m", "64MB", "64MiB", "67108864").
 */
const UNIT = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 } as const;

export function parseBytes(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpb]?)i?b?\s*$/i.exec(text);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNIT[match[2]!.toLowerCase() as keyof typeof UNIT]);
}

export const DEFAULT_SHM_BYTES = 64 * 1024 ** 2;
