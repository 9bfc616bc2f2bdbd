import type { CaptureParams } from '../../../api/v1alpha1/captures.js';
import type { Finding } from '../../../api/v1alpha1/finding.js';
import type { CaptureAnalysis, Summary } from '../../engine/capture.js';
import { evidence, formatBytes } from '../../../lib/findings.js';
import { cacheGrowth, type CacheGrowth } from './growth.js';
import type { ParsedSlab } from './parse.js';

/**
 * When growth counts. Slabs come and go a few pages at a time with ordinary churn, so a cache
 * must grow by at least 1 MiB and do so steadily: up in at least half of the intervals and down
 * in at most one in five (a burst followed by a plateau is not steady). It must also be fast
 * enough to matter over uptime: at this pace it would take 5% of memory within a day (all of it
 * in three weeks, the time scale of the leaks that hide in production). 25% a day is critical.
 */
export const slabThresholds = {
  minGrowthBytes: 1024 * 1024,
  minRoseShare: 0.5,
  maxShrankShare: 0.2,
  minIntervals: 2,
  dailyShareOfMemory: 0.05,
  criticalDailyShareOfMemory: 0.25,
} as const;

const day = 86_400;

export function isSteady(growth: CacheGrowth): boolean {
  return (
    growth.intervals >= slabThresholds.minIntervals &&
    growth.rose >= slabThresholds.minRoseShare * growth.intervals &&
    growth.shrank <= slabThresholds.maxShrankShare * growth.intervals
  );
}

export function isMaterial(growth: CacheGrowth, memTotalBytes: number | undefined): boolean {
  if (growth.growthBytes < slabThresholds.minGrowthBytes) return false;
  return memTotalBytes === undefined || growth.bytesPerSecond * day >= slabThresholds.dailyShareOfMemory * memTotalBytes;
}

function describe(growth: CacheGrowth): string {
  return `+${formatBytes(growth.growthBytes)} (${formatBytes(Math.round(growth.bytesPerSecond))}/s), ${formatBytes(growth.bytesEnd)} now`;
}

function growthLine(growth: CacheGrowth, memTotalBytes: number | undefined): string {
  const perDay = growth.bytesPerSecond * day;
  return (
    `${growth.name}: ${formatBytes(growth.bytesStart)} -> ${formatBytes(growth.bytesEnd)} ` +
    `(+${formatBytes(growth.growthBytes)}, ${formatBytes(Math.round(growth.bytesPerSecond))}/s` +
    (memTotalBytes ? `, ${((perDay / memTotalBytes) * 100).toFixed(1)}% of memory per day at this pace` : '') +
    `); objects in use +${formatBytes(growth.activeGrowthBytes)}; grew in ${growth.rose} of ${growth.intervals} intervals, ` +
    `shrank in ${growth.shrank}; ${growth.objSize}-byte objects, ${formatBytes(growth.slabBytesEnd)} in slabs`
  );
}

function growthFinding(growing: CacheGrowth[], parsed: ParsedSlab, seconds: number, memTotalBytes: number | undefined): Finding | undefined {
  if (growing.length === 0) return undefined;
  const top = growing[0]!;
  const critical = memTotalBytes !== undefined && growing.some((g) => g.bytesPerSecond * day >= slabThresholds.criticalDailyShareOfMemory * memTotalBytes);
  const reclaimable = growing.every((g) => /^(dentry|.*inode_cache)$/.test(g.name));
  return {
    pattern: 'slab-growth',
    severity: critical ? 'critical' : 'warning',
    title:
      growing.length === 1
        ? `Slab cache ${top.name} grew steadily by ${formatBytes(top.growthBytes)} in ${Math.round(seconds)}s`
        : `${growing.length} slab caches grew steadily; ${top.name} most, by ${formatBytes(top.growthBytes)} in ${Math.round(seconds)}s`,
    evidence: evidence(
      [
        ...growing.map((g) => growthLine(g, memTotalBytes)),
        parsed.intervalSeconds > 0
          ? `${parsed.readings.length} readings of /proc/slabinfo every ${parsed.intervalSeconds}s over ${seconds.toFixed(1)}s`
          : `${parsed.readings.length} readings of /proc/slabinfo, ${seconds > 0 ? `over ${seconds.toFixed(1)}s` : 'at unknown times'}`,
      ],
      12,
    ),
    recommendation:
      'A cache that grows at a steady pace may leak (objects allocated and never freed) or may be building ' +
      'legitimate state. Run the capture again over a longer window: a leak keeps growing and does not fall back ' +
      'under memory pressure. Then run the kmalloc capture to see which call sites allocate, and check the kernel ' +
      'changelog of the cache’s subsystem for a fix.' +
      (reclaimable
        ? ' Dentry and inode caches are reclaimable: `echo 2 > /proc/sys/vm/drop_caches` shows whether they shrink, and a ' +
          'higher vm.vfs_cache_pressure reclaims them sooner.'
        : ''),
  };
}

export function analyzeSlab(parsed: ParsedSlab, params: CaptureParams<'slab'>): CaptureAnalysis {
  const first = parsed.readings[0];
  const last = parsed.readings.at(-1);
  if (!first || !last) return { summary: { readings: 0 }, findings: [] };
  const seconds = (last.atMs - first.atMs) / 1000;
  const memTotalBytes = parsed.memTotalKb !== undefined ? parsed.memTotalKb * 1024 : undefined;
  const growth = cacheGrowth(parsed);
  const totalGrowthBytes = growth.reduce((sum, g) => sum + g.growthBytes, 0);
  const summary: Summary = {
    readings: parsed.readings.length,
    intervalSeconds: parsed.intervalSeconds,
    windowSeconds: Number(seconds.toFixed(1)),
    caches: last.caches.length,
    totalBytes: last.caches.reduce((sum, c) => sum + c.numObjs * c.objSize, 0),
    totalGrowthBytes,
    growthKiBPerSecond: seconds > 0 ? Math.round((totalGrowthBytes / 1024 / seconds) * 10) / 10 : 0,
  };
  for (const g of growth.filter((g) => g.growthBytes > 0).slice(0, params.topN)) summary[`top.${g.name}`] = describe(g);
  const growing = growth.filter((g) => isSteady(g) && isMaterial(g, memTotalBytes));
  const finding = growthFinding(growing, parsed, seconds, memTotalBytes);
  return { summary, findings: finding ? [finding] : [] };
}
