import { describe, expect, it } from 'vitest';
import { analyzeMemory, memoryThresholds } from '../../../../node-agent/captures/memory/analyze.js';
import { largestFreeOrder, unusableFreeIndex } from '../../../../node-agent/patterns/fragmentation.js';
import { maxMinFreeKbytes, suggestMinFreeKbytes } from '../../../../node-agent/captures/memory/min-free-kbytes.js';
import { loadAllowList } from '../../../../lib/sysctl/allowlist-load.js';
import { parseMemory, type MemoryRaw } from '../../../../node-agent/captures/memory/parse.js';
import { fixture } from '../../fixtures.js';

const read = (name: string): string => fixture('memory', name);

/** A two-reading window 3 s long from recorded (or derived) files. */
function raw(end: { buddyinfo?: string; vmstat?: string } = {}, extra: Partial<MemoryRaw> = {}): MemoryRaw {
  return {
    intervalSeconds: 3,
    pageSizeBytes: 4096,
    readings: [
      { atMs: 0, data: { buddyinfo: read('buddyinfo-start.txt'), vmstat: read('vmstat-start.txt'), meminfo: read('meminfo-start.txt') } },
      {
        atMs: 3000,
        data: {
          buddyinfo: read(end.buddyinfo ?? 'buddyinfo-end.txt'),
          vmstat: read(end.vmstat ?? 'vmstat-end.txt'),
          meminfo: read('meminfo-end.txt'),
        },
      },
    ],
    pagetypeinfo: read('pagetypeinfo.txt'),
    zoneinfo: read('zoneinfo.txt'),
    minFreeKbytes: read('min_free_kbytes.txt'),
    ...extra,
  };
}

const analyze = (r: MemoryRaw) => analyzeMemory(parseMemory(r));

describe('unusable free space index', () => {
  it('is the share of free pages in blocks below the order', () => {
    // 4 pages in order-0 blocks, 4 in one order-2 block, 8 in one order-3 block: 16 free.
    const blocks = [4, 0, 1, 1];
    expect(unusableFreeIndex(blocks, 0)).toBe(0);
    expect(unusableFreeIndex(blocks, 2)).toBe(4 / 16);
    expect(unusableFreeIndex(blocks, 3)).toBe(8 / 16);
    expect(unusableFreeIndex(blocks, 4)).toBe(1);
    expect(unusableFreeIndex([0, 0, 0], 3)).toBe(1);
    expect(largestFreeOrder(blocks)).toBe(3);
    expect(largestFreeOrder([0, 0])).toBe(-1);
  });
});

describe('vm.min_free_kbytes suggestion', () => {
  it('doubles the reserve or takes 1% of memory, whichever is larger, rounded up to a MiB', () => {
    // This VM: 66 MiB reserve, 23.5 GiB of memory: 1% (246837 KiB) wins, rounded up to 242 MiB.
    expect(suggestMinFreeKbytes(67584, 24683656)?.sysctl).toEqual({ name: 'vm.min_free_kbytes', value: String(242 * 1024) });
    // A small node where doubling wins.
    expect(suggestMinFreeKbytes(45056, 2 * 1024 * 1024)?.sysctl.value).toBe(String(88 * 1024));
  });

  it('never suggests more than the shipped sysctl allow-list accepts, even on a 2 TiB node', async () => {
    const allowed = (await loadAllowList()).sysctls.get('vm.min_free_kbytes');
    expect(allowed).toMatchObject({ type: 'integer', max: maxMinFreeKbytes });
    const huge = suggestMinFreeKbytes(67584, 2 * 1024 ** 3);
    expect(Number(huge?.sysctl.value)).toBe(maxMinFreeKbytes);
    const small = suggestMinFreeKbytes(8192, 2 * 1024 * 1024);
    expect(Number(small?.sysctl.value)).toBeGreaterThanOrEqual((allowed as { min: number }).min);
  });

  it('stays within 5% of memory and suggests nothing when the reserve is already that large', () => {
    const memTotal = 4 * 1024 * 1024;
    expect(Number(suggestMinFreeKbytes(150000, memTotal)?.sysctl.value)).toBeLessThanOrEqual(memTotal * 0.05);
    expect(suggestMinFreeKbytes(Math.floor(memTotal * 0.05), memTotal)).toBeUndefined();
    expect(suggestMinFreeKbytes(0, memTotal)).toBeUndefined();
  });
});

describe('analyzeMemory', () => {
  it('reports the recorded healthy VM with per-zone indexes and no findings', () => {
    const { summary, findings } = analyze(raw());
    expect(findings).toEqual([]);
    expect(summary).toMatchObject({ readings: 2, memTotalKiB: 24683656, minFreeKbytes: 67584, compactStall: 0, allocStall: 0 });
    expect(summary['node0.Normal.unusableIndexOrder3']).toBeLessThan(memoryThresholds.scarceIndex);
    expect(summary['node0.DMA32.unusableIndexOrder3']).toBeLessThan(0.01);
    expect(summary.memFreeKiB).toBeGreaterThan(0);
  });

  it('finds critical fragmentation when almost no free memory is in order-3+ blocks, with a computed min_free_kbytes', () => {
    const { findings } = analyze(raw({ buddyinfo: 'buddyinfo-derived-fragmented.txt' }));
    expect(findings.map((f) => [f.pattern, f.severity])).toEqual([['memory-fragmentation', 'critical']]);
    const finding = findings[0]!;
    expect(finding.title).toMatch(/node0\.Normal although 6\.0 GiB is free/);
    expect(finding.evidence.join('\n')).toMatch(/unusable free space index order 3 = 0\.999/);
    expect(finding.evidence.join('\n')).toMatch(/largest free block order 4 \(64\.0 KiB\)/);
    expect(finding.evidence.join('\n')).toMatch(/pageblocks by migrate type: Unmovable 120, Movable 3697, Reclaimable 215/);
    expect(finding.suggestedMitigation?.sysctls).toEqual([{ name: 'vm.min_free_kbytes', value: String(242 * 1024) }]);
    expect(finding.suggestedMitigation?.reason).toMatch(/66\.0 MiB to 242\.0 MiB/);
  });

  it('finds a warning when three quarters of free memory is in small blocks', () => {
    const { findings } = analyze(raw({ buddyinfo: 'buddyinfo-derived-partly-fragmented.txt' }));
    expect(findings.map((f) => [f.pattern, f.severity])).toEqual([['memory-fragmentation', 'warning']]);
  });

  it('does not call it fragmentation when little memory is free (that is memory pressure)', () => {
    const { findings, summary } = analyze(raw({ buddyinfo: 'buddyinfo-derived-fragmented-little-free.txt' }));
    expect(summary['node0.Normal.unusableIndexOrder3']).toBe(1);
    expect(findings).toEqual([]);
  });

  it('finds allocation stalls when direct reclaim and compaction counters rise, critical when compaction mostly fails', () => {
    const { findings, summary } = analyze(raw({ vmstat: 'vmstat-end-derived-stalls.txt' }));
    expect(summary).toMatchObject({ allocStall: 35, compactStall: 12, compactFail: 9, compactSuccess: 3, pgscanDirect: 52000 });
    expect(findings.map((f) => [f.pattern, f.severity])).toEqual([['allocation-failure', 'critical']]);
    const evidence = findings[0]!.evidence.join('\n');
    expect(evidence).toMatch(/allocstall\): \+35 in 3s \(11\.67\/s\)/);
    expect(evidence).toMatch(/\+9 failed \(75% failed\)/);
    expect(findings[0]!.suggestedMitigation?.sysctls[0]?.name).toBe('vm.min_free_kbytes');
  });

  it('rates a few stalls with successful compaction as a warning', () => {
    const stalls = read('vmstat-end-derived-stalls.txt')
      .replace(/^compact_fail \d+$/m, 'compact_fail 0')
      .replace(/^allocstall_normal \d+$/m, 'allocstall_normal 2');
    const r = raw();
    r.readings[1]!.data.vmstat = stalls;
    const { findings } = analyze(r);
    expect(findings.map((f) => [f.pattern, f.severity])).toEqual([['allocation-failure', 'warning']]);
  });

  it('makes no suggestion when min_free_kbytes is unknown', () => {
    const r = raw({ buddyinfo: 'buddyinfo-derived-fragmented.txt' });
    delete r.minFreeKbytes;
    const finding = analyze(r).findings[0]!;
    expect(finding.suggestedMitigation).toBeUndefined();
  });

  it('reports an empty window without failing', () => {
    expect(analyzeMemory(parseMemory({ intervalSeconds: 5, pageSizeBytes: 4096, readings: [] }))).toEqual({ summary: { readings: 0 }, findings: [] });
  });
});
