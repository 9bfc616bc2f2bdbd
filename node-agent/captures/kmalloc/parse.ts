import { findMap, mergeNumbers, parseBpftraceOutput, type HistBucket } from '../../engine/bpftrace-output.js';
import { windowSeconds } from '../../engine/bpftrace-window.js';
import type { Workload } from '../../engine/workload.js';

export interface Usage {
  calls: number;
  bytes: number;
}

export interface PairUsage extends Usage {
  comm: string;
  /** The unified-hierarchy cgroup id the process ran in; 0 in recordings made before it was kept. */
  cgroup: number;
  site: string;
}

/** A process by its command name and cgroup: one comm in two pods are two processes here. */
export interface ProcessUsage extends Usage {
  comm: string;
  cgroup: number;
}

export interface KmallocParsed {
  /** How long the probes counted. */
  windowSeconds: number;
  total: Usage;
  /** Largest first. */
  byProcess: ProcessUsage[];
  bySite: (Usage & { site: string })[];
  byProcessAndSite: PairUsage[];
  /** Calls by exact allocation size (bytes_alloc, the slab object size), smallest first. */
  sizeClasses: { bytes: number; calls: number }[];
  /** The same in log2 buckets. */
  sizeHistogram: HistBucket[];
  /** kmalloc calls that returned NULL. */
  failures: { comm: string; cgroup: number; site: string; count: number }[];
  /** Whether live allocations were tracked (params.trackOutstanding). */
  tracked: boolean;
  /** Bytes allocated in the window and not freed by its end, by call site; largest first. */
  outstandingBySite: { site: string; bytes: number }[];
  /**
   * Allocations that did not fit in the map of live allocations (at least this many): their
   * frees were not seen, so outstanding bytes are overstated by up to this many allocations.
   */
  untrackedAllocations: number;
  /** Tracked allocations freed where kfree does not fire, settled when the address came back. */
  unseenFrees: number;
  /** Output lines that were not JSON: a cut-off output. */
  malformedLines: number;
  /** Where the processes ran, by cgroup id: the pod and container, or the host. Ids not listed are unknown. */
  workloads?: Record<string, Workload>;
}

/** Splits a printed key "a,b,c" into its last `count` parts and the rest (a comm may hold commas). */
function splitKey(key: string, count: number): string[] {
  const parts = key.split(',');
  if (parts.length <= count) return ['', ...parts];
  return [parts.slice(0, parts.length - count).join(','), ...parts.slice(parts.length - count)];
}

/** [comm, site, size] of an older recording as [comm, cgroup 0, site, size]. */
function withoutCgroup([comm, site, size]: string[]): string[] {
  return [comm!, '0', site!, size!];
}

function sumBy<T extends Usage>(pairs: PairUsage[], key: (p: PairUsage) => string, make: (name: string) => T): T[] {
  const totals = new Map<string, T>();
  for (const pair of pairs) {
    const name = key(pair);
    const entry = totals.get(name) ?? make(name);
    entry.calls += pair.calls;
    entry.bytes += pair.bytes;
    totals.set(name, entry);
  }
  return [...totals.values()].sort((a, b) => b.bytes - a.bytes || b.calls - a.calls);
}

/** log2 buckets as bpftrace's hist() prints them. */
export function log2Histogram(sizeClasses: { bytes: number; calls: number }[]): HistBucket[] {
  const buckets = new Map<number, HistBucket>();
  for (const { bytes, calls } of sizeClasses) {
    const min = bytes < 1 ? 0 : 2 ** Math.floor(Math.log2(bytes));
    const bucket = buckets.get(min) ?? { min, max: min === 0 ? 0 : min * 2 - 1, count: 0 };
    bucket.count += calls;
    buckets.set(min, bucket);
  }
  return [...buckets.values()].sort((a, b) => a.min! - b.min!);
}

/** The cgroup ids the processes ran in, to name their pods (0, unknown, left out). */
export function cgroupIdsOf(parsed: KmallocParsed): Set<number> {
  return new Set([...parsed.byProcessAndSite, ...parsed.failures].map((p) => p.cgroup).filter((id) => id > 0));
}

/** Parses the JSON output of the kmalloc program (program.ts). */
export function parseKmalloc(output: string, params: { trackOutstanding: boolean; maxTrackedAllocations: number }): KmallocParsed {
  const parsed = parseBpftraceOutput(output);
  const pairCounts = new Map<string, PairUsage>();
  const sizes = new Map<number, number>();
  // Calls by "site,size": what freed allocations are subtracted from.
  const allocatedBySiteSize = new Map<string, number>();
  const failures: KmallocParsed['failures'] = [];
  // @allocs[comm, cgroup, site, size]; recordings from before the cgroup was kept have @alloc[comm, site, size].
  const withCgroup = findMap(parsed, '@allocs', 'map');
  const allocs = withCgroup ?? findMap(parsed, '@alloc', 'map');
  for (const [key, calls] of mergeNumbers(allocs?.entries ?? [], 'sum')) {
    const [comm, cgroupText, site, sizeText] = (withCgroup ? splitKey(key, 3) : withoutCgroup(splitKey(key, 2))) as [string, string, string, string];
    const cgroup = Number(cgroupText);
    const size = Number(sizeText);
    if (size === 0) {
      failures.push({ comm, cgroup, site, count: calls });
      continue;
    }
    const pairKey = `${comm}\u0000${cgroup}\u0000${site}`;
    const pair = pairCounts.get(pairKey) ?? { comm, cgroup, site, calls: 0, bytes: 0 };
    pair.calls += calls;
    pair.bytes += calls * size;
    pairCounts.set(pairKey, pair);
    sizes.set(size, (sizes.get(size) ?? 0) + calls);
    allocatedBySiteSize.set(`${site},${size}`, (allocatedBySiteSize.get(`${site},${size}`) ?? 0) + calls);
  }
  const pairs = [...pairCounts.values()].sort((a, b) => b.bytes - a.bytes);
  const total = pairs.reduce((sum, p) => ({ calls: sum.calls + p.calls, bytes: sum.bytes + p.bytes }), { calls: 0, bytes: 0 });
  const sizeClasses = [...sizes].map(([bytes, calls]) => ({ bytes, calls })).sort((a, b) => a.bytes - b.bytes);

  const freedBySiteSize = new Map<string, number>();
  let unseenFrees = 0;
  for (const [key, count] of mergeNumbers(findMap(parsed, '@freed', 'map')?.entries ?? [], 'sum')) {
    const [site, size, how] = splitKey(key, 2) as [string, string, string];
    freedBySiteSize.set(`${site},${size}`, (freedBySiteSize.get(`${site},${size}`) ?? 0) + count);
    if (how === '1') unseenFrees += count;
  }

  const outstanding = new Map<string, number>();
  let stillLive = 0;
  if (params.trackOutstanding) {
    for (const [siteSize, calls] of allocatedBySiteSize) {
      const cut = siteSize.lastIndexOf(',');
      const live = Math.max(0, calls - (freedBySiteSize.get(siteSize) ?? 0));
      stillLive += live;
      if (live > 0) outstanding.set(siteSize.slice(0, cut), (outstanding.get(siteSize.slice(0, cut)) ?? 0) + live * Number(siteSize.slice(cut + 1)));
    }
  }

  return {
    windowSeconds: windowSeconds(parsed),
    total,
    byProcess: sumBy(
      pairs,
      (p) => `${p.comm}\u0000${p.cgroup}`,
      (key) => ({ comm: key.slice(0, key.lastIndexOf('\u0000')), cgroup: Number(key.slice(key.lastIndexOf('\u0000') + 1)), calls: 0, bytes: 0 }),
    ),
    bySite: sumBy(
      pairs,
      (p) => p.site,
      (site) => ({ site, calls: 0, bytes: 0 }),
    ),
    byProcessAndSite: pairs,
    sizeClasses,
    sizeHistogram: log2Histogram(sizeClasses),
    failures: failures.sort((a, b) => b.count - a.count),
    tracked: params.trackOutstanding,
    outstandingBySite: [...outstanding].map(([site, bytes]) => ({ site, bytes })).sort((a, b) => b.bytes - a.bytes),
    // The map holds at most maxTrackedAllocations: any more allocations still counted as live did not fit.
    untrackedAllocations: Math.max(0, stillLive - params.maxTrackedAllocations),
    unseenFrees,
    malformedLines: parsed.malformedLines,
  };
}
