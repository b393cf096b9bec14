/**
 * runc's `events` stats (types/events.go of runc 1.1) from the files of a container's guest
 * cgroup v2, converted the way runc's fs2 driver does (cpu.stat µs become ns; "max" is the
 * largest uint64, except for pids where runc reports no limit as 0). Counters are uint64, so
 * they are kept as bigint and written by `eventJson`, which JSON.stringify cannot do.
 */

type U64 = bigint;

export interface MemoryEntry {
  limit: U64;
  usage?: U64;
  max?: U64;
  failcnt: U64;
}

export interface RuncStats {
  cpu: { usage: { total?: U64; kernel: U64; user: U64 }; throttling: { periods?: U64; throttledPeriods?: U64; throttledTime?: U64 } };
  cpuset: Record<string, U64>;
  memory: { cache?: U64; usage: MemoryEntry; swap: MemoryEntry; kernel: MemoryEntry; kernelTCP: MemoryEntry; raw?: Record<string, U64> };
  pids: { current?: U64; limit?: U64 };
  blkio: Record<string, never>;
  hugetlb: Record<string, never>;
  intel_rdt: Record<string, never>;
  network_interfaces: null;
}

export interface RuncEvent {
  type: 'stats' | 'oom';
  id: string;
  data?: RuncStats;
}

const MAX_U64 = 2n ** 64n - 1n;

/** A single-value file: a number, or "max" (no limit). Missing: undefined. */
function value(text: string | undefined): U64 | undefined {
  if (text === undefined) return undefined;
  const word = text.trim();
  if (word === 'max') return MAX_U64;
  return /^\d+$/.test(word) ? BigInt(word) : undefined;
}

/** "key value" lines (cpu.stat, memory.stat), sorted by key as Go writes a map. */
function keyValues(text: string | undefined): Record<string, U64> {
  const pairs: Array<[string, U64]> = [];
  for (const line of (text ?? '').split('\n')) {
    const [key, number] = line.trim().split(/\s+/);
    if (key && number && /^\d+$/.test(number)) pairs.push([key, BigInt(number)]);
  }
  return Object.fromEntries(pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Go's omitempty: a zero counter is left out. */
function nonZero(v: U64 | undefined): U64 | undefined {
  return v ? v : undefined;
}

const CPUSET_FLAGS = [
  'cpu_exclusive',
  'mem_hardwall',
  'mem_exclusive',
  'memory_migrate',
  'memory_spread_page',
  'memory_spread_slab',
  'memory_pressure',
  'sched_load_balance',
  'sched_relax_domain_level',
];

/** `files` maps a cgroup file name (cpu.stat, memory.current, …) to its content. */
export function runcStats(files: Record<string, string>): RuncStats {
  const cpu = keyValues(files['cpu.stat']);
  const ns = (usec: U64 | undefined) => (usec === undefined ? undefined : usec * 1000n);
  const memoryUsage: MemoryEntry = {
    limit: value(files['memory.max']) ?? 0n,
    usage: nonZero(value(files['memory.current'])),
    max: nonZero(value(files['memory.peak'])),
    failcnt: 0n,
  };
  // As runc: v1 reported swap as memory + swap, so v2's swap figures get the memory's added.
  const swapLimit = value(files['memory.swap.max']) ?? 0n;
  const swap: MemoryEntry = {
    limit: swapLimit === MAX_U64 ? MAX_U64 : swapLimit + memoryUsage.limit,
    usage: nonZero((value(files['memory.swap.current']) ?? 0n) + (memoryUsage.usage ?? 0n)),
    failcnt: 0n,
  };
  if (swap.limit > MAX_U64) swap.limit = MAX_U64;
  const raw = keyValues(files['memory.stat']);
  const pidsLimit = value(files['pids.max']);
  return {
    cpu: {
      usage: { total: nonZero(ns(cpu.usage_usec)), kernel: ns(cpu.system_usec) ?? 0n, user: ns(cpu.user_usec) ?? 0n },
      throttling: {
        periods: nonZero(cpu.nr_periods),
        throttledPeriods: nonZero(cpu.nr_throttled),
        throttledTime: nonZero(ns(cpu.throttled_usec)),
      },
    },
    cpuset: Object.fromEntries(CPUSET_FLAGS.map((flag) => [flag, 0n])),
    memory: {
      cache: nonZero(raw.file),
      usage: memoryUsage,
      swap,
      kernel: { limit: 0n, failcnt: 0n },
      kernelTCP: { limit: 0n, failcnt: 0n },
      raw: Object.keys(raw).length > 0 ? raw : undefined,
    },
    pids: { current: nonZero(value(files['pids.current'])), limit: nonZero(pidsLimit === MAX_U64 ? 0n : pidsLimit) },
    blkio: {},
    hugetlb: {},
    intel_rdt: {},
    network_interfaces: null,
  };
}

/** One line of JSON as Go's encoder writes it: bigints as exact numbers, undefined members left out. */
export function eventJson(event: RuncEvent): string {
  const write = (v: unknown): string => {
    if (typeof v === 'bigint') return v.toString();
    if (Array.isArray(v)) return `[${v.map(write).join(',')}]`;
    if (v !== null && typeof v === 'object') {
      return `{${Object.entries(v)
        .filter(([, m]) => m !== undefined)
        .map(([k, m]) => `${JSON.stringify(k)}:${write(m)}`)
        .join(',')}}`;
    }
    return JSON.stringify(v);
  };
  return write(event);
}
