import {
  findMap,
  mergeHistograms,
  mergeNumbers,
  mergeStats,
  parseBpftraceOutput,
  scalarValue,
  type HistBucket,
} from '../../engine/bpftrace-output.js';

export interface Usage {
  calls: number;
  bytes: number;
}

export interface PairUsage extends Usage {
  comm: string;
  site: string;
}

export interface KmallocParsed {
  /** How long the probes counted. */
  windowSeconds: number;
  total: Usage;
  /** Largest first. */
  byProcess: (Usage & { comm: string })[];
  bySite: (Usage & { site: string })[];
  byProcessAndSite: PairUsage[];
  /** bytes_alloc, log2 buckets. */
  sizeHistogram: HistBucket[];
  /** kmalloc calls that returned NULL. */
  failures: { comm: string; site: string; count: number }[];
  /** Whether live allocations were tracked (params.trackOutstanding). */
  tracked: boolean;
  /** Bytes allocated in the window and not freed by its end, by call site; largest first. */
  outstandingBySite: { site: string; bytes: number }[];
  /** Allocations not tracked because the map of live allocations was full. */
  untrackedAllocations: number;
  /** Tracked allocations whose free was not seen by kfree (settled when the address came back). */
  unseenFrees: number;
  /** Output lines that were not JSON: a cut-off output. */
  malformedLines: number;
}

/** "comm,site": a comm may hold a comma, a kernel symbol does not. */
export function splitCommAndSite(key: string): { comm: string; site: string } {
  const cut = key.lastIndexOf(',');
  return cut < 0 ? { comm: key, site: '?' } : { comm: key.slice(0, cut), site: key.slice(cut + 1) };
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

/** Parses the JSON output of the kmalloc program (program.ts). */
export function parseKmalloc(output: string, trackOutstanding: boolean): KmallocParsed {
  const parsed = parseBpftraceOutput(output);
  const alloc = findMap(parsed, '@alloc', 'stats');
  const pairs: PairUsage[] = [...mergeStats(alloc?.entries ?? [])]
    .map(([key, stats]) => ({ ...splitCommAndSite(key), calls: stats.count, bytes: stats.total }))
    .sort((a, b) => b.bytes - a.bytes);
  const byProcess = sumBy(pairs, (p) => p.comm, (comm) => ({ comm, calls: 0, bytes: 0 }));
  const bySite = sumBy(pairs, (p) => p.site, (site) => ({ site, calls: 0, bytes: 0 }));
  const total = pairs.reduce((sum, p) => ({ calls: sum.calls + p.calls, bytes: sum.bytes + p.bytes }), { calls: 0, bytes: 0 });

  const size = findMap(parsed, '@size', 'hist');
  const sizeHistogram = size ? [...mergeHistograms(size.entries).values()][0] ?? [] : [];

  const failures = [...mergeNumbers(findMap(parsed, '@failed', 'map')?.entries ?? [], 'sum')]
    .map(([key, count]) => ({ ...splitCommAndSite(key), count }))
    .sort((a, b) => b.count - a.count);

  const outstandingMap = findMap(parsed, '@outstanding', 'map');
  const outstandingBySite = [...mergeNumbers(outstandingMap?.entries ?? [], 'sum')]
    .filter(([, bytes]) => bytes > 0)
    .map(([site, bytes]) => ({ site, bytes }))
    .sort((a, b) => b.bytes - a.bytes);
  const tracking = mergeNumbers(findMap(parsed, '@tracking', 'map')?.entries ?? [], 'sum');

  return {
    windowSeconds: scalarValue(parsed, '@window_ns') / 1e9,
    total,
    byProcess,
    bySite,
    byProcessAndSite: pairs,
    sizeHistogram,
    failures,
    tracked: trackOutstanding,
    outstandingBySite,
    untrackedAllocations: tracking.get('1') ?? 0,
    unseenFrees: tracking.get('2') ?? 0,
    malformedLines: parsed.malformedLines,
  };
}
