import { riseAndFall } from '../../patterns/steady-growth.js';
import type { SlabCache } from '../../procfs/slabinfo.js';
import type { ParsedSlab } from './parse.js';

/** How one cache changed over the window. Bytes are objects × object size, as slabinfo counts them. */
export interface CacheGrowth {
  name: string;
  objSize: number;
  bytesStart: number;
  bytesEnd: number;
  growthBytes: number;
  activeBytesStart: number;
  activeBytesEnd: number;
  activeGrowthBytes: number;
  /** Whole slabs at the end: what the cache really holds, including unused space in its slabs. */
  slabBytesEnd: number;
  bytesPerSecond: number;
  /** Intervals between readings, and in how many the cache grew or shrank. */
  intervals: number;
  rose: number;
  shrank: number;
}

const bytes = (cache: SlabCache | undefined): number => (cache ? cache.numObjs * cache.objSize : 0);
const activeBytes = (cache: SlabCache | undefined): number => (cache ? cache.activeObjs * cache.objSize : 0);

/** Growth of every cache seen in the window, largest first. A cache missing from a reading counts as empty. */
export function cacheGrowth(parsed: ParsedSlab): CacheGrowth[] {
  const readings = parsed.readings.map((r) => ({ atMs: r.atMs, byName: new Map(r.caches.map((c) => [c.name, c])) }));
  const first = readings[0];
  const last = readings.at(-1);
  if (!first || !last) return [];
  const seconds = (last.atMs - first.atMs) / 1000;
  const names = new Set(readings.flatMap((r) => [...r.byName.keys()]));
  const growth: CacheGrowth[] = [];
  for (const name of names) {
    const { intervals, rose, fell: shrank } = riseAndFall(readings.map((r) => bytes(r.byName.get(name))));
    const start = first.byName.get(name);
    const end = last.byName.get(name);
    const any = end ?? start ?? readings.find((r) => r.byName.has(name))!.byName.get(name)!;
    const growthBytes = bytes(end) - bytes(start);
    growth.push({
      name,
      objSize: any.objSize,
      bytesStart: bytes(start),
      bytesEnd: bytes(end),
      growthBytes,
      activeBytesStart: activeBytes(start),
      activeBytesEnd: activeBytes(end),
      activeGrowthBytes: activeBytes(end) - activeBytes(start),
      slabBytesEnd: end ? end.numSlabs * end.pagesPerSlab * parsed.pageSizeBytes : 0,
      bytesPerSecond: seconds > 0 ? growthBytes / seconds : 0,
      intervals,
      rose,
      shrank,
    });
  }
  return growth.sort((a, b) => b.growthBytes - a.growthBytes || a.name.localeCompare(b.name));
}
