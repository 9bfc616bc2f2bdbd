import type { CaptureParams } from '../../../api/v1alpha1/captures.js';
import type { Finding, Severity } from '../../../api/v1alpha1/finding.js';
import type { CaptureAnalysis, Summary } from '../../engine/capture.js';
import { evidence, formatBytes } from '../../../lib/findings.js';
import { fragmentationOrder, freePages, largestFreeOrder, minZoneFreeBytes, unusableFreeIndex } from '../../patterns/fragmentation.js';
import { suggestMinFreeKbytes } from './min-free-kbytes.js';
import type { MemoryReading, ParsedMemory } from './parse.js';
import { counterDelta, reclaimCounters, type ReclaimCounters } from '../../procfs/reclaim-counters.js';

/** Thresholds; the order is fragmentationOrder (patterns/fragmentation.ts says why). */
export const memoryThresholds = {
  order: fragmentationOrder,
  /** Three quarters of free memory cannot serve an order-3 request: those now rely on compaction. */
  scarceIndex: 0.75,
  /** Almost none can: order-3 requests stall in compaction or fail. */
  criticalIndex: 0.95,
  /** "Plenty free": at least this share of the zone's managed pages ... */
  plentyFreeShare: 0.1,
  /** ... and at least this much, which also leaves out the 16 MiB DMA zone. */
  plentyFreeBytes: minZoneFreeBytes,
  /** Most direct compactions failing means high-order allocations end up failing. */
  criticalCompactFailShare: 0.5,
  /** At this rate allocations stall in direct reclaim all the time. */
  criticalStallsPerSecond: 10,
} as const;

export interface ZoneReport {
  key: string;
  freeBytes: number;
  managedBytes?: number;
  indexOrder3: number;
  indexOrder4: number;
  indexOrder3AtStart: number;
  largestOrder: number;
  freeBlocks: number[];
  plentyFree: boolean;
}

function zoneKey(zone: { node: number; zone: string }): string {
  return `node${zone.node}.${zone.zone}`;
}

function round(value: number, digits = 3): number {
  return Number(value.toFixed(digits));
}

export function zoneReports(parsed: ParsedMemory): ZoneReport[] {
  const first = parsed.readings[0];
  const last = parsed.readings.at(-1);
  if (!first || !last) return [];
  const page = parsed.pageSizeBytes;
  return last.zones
    .filter((zone) => freePages(zone.freeBlocks) > 0)
    .map((zone) => {
      const start = first.zones.find((z) => z.node === zone.node && z.zone === zone.zone) ?? zone;
      const managedPages = parsed.zoneWatermarks.find((z) => z.node === zone.node && z.zone === zone.zone)?.managed;
      const free = freePages(zone.freeBlocks);
      const freeBytes = free * page;
      return {
        key: zoneKey(zone),
        freeBytes,
        ...(managedPages ? { managedBytes: managedPages * page } : {}),
        indexOrder3: unusableFreeIndex(zone.freeBlocks, 3),
        indexOrder4: unusableFreeIndex(zone.freeBlocks, 4),
        indexOrder3AtStart: unusableFreeIndex(start.freeBlocks, 3),
        largestOrder: largestFreeOrder(zone.freeBlocks),
        freeBlocks: zone.freeBlocks,
        plentyFree: freeBytes >= memoryThresholds.plentyFreeBytes && (managedPages === undefined || free >= memoryThresholds.plentyFreeShare * managedPages),
      };
    });
}

function kib(kb: number | undefined): string {
  return kb === undefined ? 'unknown' : formatBytes(kb * 1024);
}

function fragmentationFinding(parsed: ParsedMemory, zones: ZoneReport[], last: MemoryReading): Finding | undefined {
  const scarce = zones.filter((z) => z.plentyFree && z.indexOrder3 >= memoryThresholds.scarceIndex);
  if (scarce.length === 0) return undefined;
  const worst = scarce.reduce((a, b) => (b.indexOrder3 > a.indexOrder3 ? b : a));
  const severity: Severity = worst.indexOrder3 >= memoryThresholds.criticalIndex ? 'critical' : 'warning';
  const page = parsed.pageSizeBytes;
  const lines: string[] = [];
  for (const zone of scarce) {
    lines.push(
      `${zone.key}: ${formatBytes(zone.freeBytes)} free${zone.managedBytes ? ` of ${formatBytes(zone.managedBytes)}` : ''}, ` +
        `${(zone.indexOrder3 * 100).toFixed(1)}% of it in blocks smaller than order 3 (${formatBytes(8 * page)}); ` +
        `unusable free space index order 3 = ${round(zone.indexOrder3)}, order 4 = ${round(zone.indexOrder4)} ` +
        `(${round(zone.indexOrder3AtStart)} at the start of the window)`,
    );
    lines.push(
      `${zone.key}: largest free block order ${zone.largestOrder} (${formatBytes(2 ** Math.max(0, zone.largestOrder) * page)}); ` +
        `free blocks by order 0..${zone.freeBlocks.length - 1}: ${zone.freeBlocks.join(' ')}`,
    );
    const types = parsed.pageTypes?.zones.find((z) => zoneKey(z) === zone.key);
    if (types) {
      const blocks = Object.entries(types.blocksByType).filter(([, n]) => n > 0);
      lines.push(
        `${zone.key}: pageblocks by migrate type: ${blocks.map(([t, n]) => `${t} ${n}`).join(', ')} ` +
          '(free pages inside Unmovable and Reclaimable blocks cannot be compacted)',
      );
    }
  }
  lines.push(
    `MemFree ${kib(last.meminfo.MemFree)}, MemAvailable ${kib(last.meminfo.MemAvailable)} of ${kib(last.meminfo.MemTotal)}; ` +
      `vm.min_free_kbytes = ${parsed.minFreeKbytes ?? 'unknown'}`,
  );
  const suggestion =
    parsed.minFreeKbytes !== undefined && last.meminfo.MemTotal !== undefined ? suggestMinFreeKbytes(parsed.minFreeKbytes, last.meminfo.MemTotal) : undefined;
  return {
    pattern: 'memory-fragmentation',
    severity,
    title:
      scarce.length === 1
        ? `High-order free blocks are scarce in ${worst.key} although ${formatBytes(worst.freeBytes)} is free`
        : `High-order free blocks are scarce in ${scarce.length} zones although memory is free`,
    evidence: evidence(lines, 20),
    recommendation:
      'Allocations of order 3 and above (network buffers, slab caches with large slabs, transparent huge pages) now ' +
      'depend on compaction and can stall or fail although free memory looks fine. Look for "page allocation failure: ' +
      'order:N" with the kernel-log capture, and for caches that keep growing with the slab and kmalloc captures: ' +
      'long-lived unmovable kernel allocations scattered across memory are what compaction cannot undo. ' +
      '`echo 1 > /proc/sys/vm/compact_memory` compacts once as a stopgap.' +
      (suggestion ? ' A larger free-page reserve keeps high-order blocks available (suggested mitigation).' : ''),
    ...(suggestion ? { suggestedMitigation: { sysctls: [suggestion.sysctl], reason: suggestion.reason } } : {}),
  };
}

function stallFinding(parsed: ParsedMemory, delta: ReclaimCounters, seconds: number, last: MemoryReading, zones: ZoneReport[]): Finding | undefined {
  if (delta.allocStall + delta.compactStall + delta.compactFail === 0) return undefined;
  const attempts = delta.compactFail + delta.compactSuccess;
  const failShare = attempts > 0 ? delta.compactFail / attempts : 0;
  const stallRate = seconds > 0 ? delta.allocStall / seconds : 0;
  const severity: Severity =
    (delta.compactFail > 0 && failShare >= memoryThresholds.criticalCompactFailShare) || stallRate >= memoryThresholds.criticalStallsPerSecond
      ? 'critical'
      : 'warning';
  const lines = [
    `direct reclaim stalls (allocstall): +${delta.allocStall} in ${round(seconds, 1)}s (${round(stallRate, 2)}/s)`,
    `direct compaction: +${delta.compactStall} stalls, +${delta.compactSuccess} succeeded, +${delta.compactFail} failed` +
      (attempts > 0 ? ` (${Math.round(failShare * 100)}% failed)` : ''),
    `direct reclaim scanned ${delta.pgscanDirect} pages and reclaimed ${delta.pgstealDirect}`,
    `kswapd scanned ${delta.pgscanKswapd} pages and reclaimed ${delta.pgstealKswapd}; ran ${delta.kswapdRuns} times, ` +
      `re-woken quickly after reaching the low watermark ${delta.kswapdLowWmarkHitQuickly} times`,
    `MemFree ${kib(last.meminfo.MemFree)}, MemAvailable ${kib(last.meminfo.MemAvailable)} of ${kib(last.meminfo.MemTotal)}`,
  ];
  const fragmented = zones.filter((z) => z.indexOrder3 >= memoryThresholds.scarceIndex);
  if (fragmented.length > 0) {
    lines.push(`fragmented zones: ${fragmented.map((z) => `${z.key} (order-3 index ${round(z.indexOrder3)})`).join(', ')}`);
  }
  if (delta.oomKill > 0) lines.push(`OOM kills during the window: ${delta.oomKill}`);
  const suggestion =
    parsed.minFreeKbytes !== undefined && last.meminfo.MemTotal !== undefined ? suggestMinFreeKbytes(parsed.minFreeKbytes, last.meminfo.MemTotal) : undefined;
  return {
    pattern: 'allocation-failure',
    severity,
    title:
      delta.compactFail > 0
        ? `Direct compaction failed ${delta.compactFail} times during the window`
        : `Allocations stalled in direct reclaim or compaction ${delta.allocStall + delta.compactStall} times during the window`,
    evidence: evidence(lines, 20),
    recommendation:
      'Allocating tasks had to reclaim or compact memory themselves, which adds latency to the task (often milliseconds ' +
      'per stall) and ends in allocation failures when compaction fails. If MemAvailable is low the node is short of ' +
      'memory: lower the workload or its limits. If memory is free but compaction fails, free memory is fragmented: ' +
      'run the memory capture longer, and the kernel-log capture for "page allocation failure" reports.' +
      (suggestion ? ' Waking kswapd earlier with a larger free-page reserve takes most stalls off allocating tasks (suggested mitigation).' : ''),
    ...(suggestion ? { suggestedMitigation: { sysctls: [suggestion.sysctl], reason: suggestion.reason } } : {}),
  };
}

export function analyzeMemory(parsed: ParsedMemory, _params?: CaptureParams<'memory'>): CaptureAnalysis {
  const first = parsed.readings[0];
  const last = parsed.readings.at(-1);
  if (!first || !last) return { summary: { readings: 0 }, findings: [] };
  const zones = zoneReports(parsed);
  const delta = counterDelta(reclaimCounters(first.vmstat), reclaimCounters(last.vmstat));
  const seconds = (last.atMs - first.atMs) / 1000;

  const summary: Summary = {
    readings: parsed.readings.length,
    intervalSeconds: parsed.intervalSeconds,
    windowSeconds: round(seconds, 1),
  };
  for (const field of ['MemTotal', 'MemFree', 'MemAvailable'] as const) {
    const value = last.meminfo[field];
    if (value !== undefined) summary[`${field.charAt(0).toLowerCase()}${field.slice(1)}KiB`] = value;
  }
  if (parsed.minFreeKbytes !== undefined) summary.minFreeKbytes = parsed.minFreeKbytes;
  for (const zone of zones) {
    summary[`${zone.key}.freeKiB`] = Math.round(zone.freeBytes / 1024);
    summary[`${zone.key}.unusableIndexOrder3`] = round(zone.indexOrder3);
    summary[`${zone.key}.unusableIndexOrder4`] = round(zone.indexOrder4);
  }
  for (const [name, value] of Object.entries(delta)) summary[name] = value;

  const findings = [fragmentationFinding(parsed, zones, last), stallFinding(parsed, delta, seconds, last, zones)].filter((f): f is Finding => f !== undefined);
  return { summary, findings };
}
