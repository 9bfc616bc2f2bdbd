import { describe, expect, it } from 'vitest';
import { analyzeSlab, slabThresholds } from '../../../../node-agent/captures/slab/analyze.js';
import { cacheGrowth } from '../../../../node-agent/captures/slab/growth.js';
import { parseSlab } from '../../../../node-agent/captures/slab/parse.js';
import { fixture } from '../../fixtures.js';

const params = { intervalSeconds: 1, topN: 5 };

/** Recorded readings in the given order, one second apart. */
function parsed(files: string[], memTotalKb: number | null = 24683656) {
  return parseSlab({
    intervalSeconds: 1,
    pageSizeBytes: 4096,
    ...(memTotalKb !== null ? { memTotalKb } : {}),
    readings: files.map((file, i) => ({ atMs: i * 1000, data: fixture('slab', file) })),
  });
}

const growingFiles = [0, 1, 2, 3, 4].map((i) => `slabinfo-${i}.txt`);

describe('cacheGrowth', () => {
  it('measures bytes (objects x size), objects in use and the rate over the window', () => {
    const shmem = cacheGrowth(parsed(growingFiles)).find((g) => g.name === 'shmem_inode_cache')!;
    expect(shmem).toMatchObject({
      bytesStart: 147 * 752,
      bytesEnd: 17556 * 752,
      growthBytes: (17556 - 147) * 752,
      activeGrowthBytes: (17556 - 147) * 752,
      slabBytesEnd: 836 * 4 * 4096,
      intervals: 4,
      rose: 4,
      shrank: 0,
    });
    expect(shmem.bytesPerSecond).toBeCloseTo(((17556 - 147) * 752) / 4);
  });
});

describe('analyzeSlab', () => {
  it('finds steady material growth in the tmpfs inode and dentry caches, critical at this pace', () => {
    const { findings, summary } = analyzeSlab(parsed(growingFiles), params);
    expect(findings).toHaveLength(1);
    const finding = findings[0]!;
    expect(finding).toMatchObject({ pattern: 'slab-growth', severity: 'critical' });
    expect(finding.title).toBe('2 slab caches grew steadily; shmem_inode_cache most, by 12.5 MiB in 4s');
    const perDay = (((17556 - 147) * 752) / 4) * 86400;
    const share = ((perDay / (24683656 * 1024)) * 100).toFixed(1);
    expect(finding.evidence[0]).toContain(`shmem_inode_cache: 108.0 KiB -> 12.6 MiB (+12.5 MiB, 3.1 MiB/s, ${share}% of memory per day at this pace)`);
    expect(finding.evidence[0]).toContain('grew in 4 of 4 intervals, shrank in 0; 752-byte objects');
    expect(finding.evidence[1]).toMatch(/^dentry: /);
    expect(finding.suggestedMitigation).toBeUndefined();
    expect(summary).toMatchObject({ readings: 5, windowSeconds: 4 });
    expect(Object.keys(summary).filter((k) => k.startsWith('top.'))).toHaveLength(params.topN);
    expect(summary['top.shmem_inode_cache']).toBe('+12.5 MiB (3.1 MiB/s), 12.6 MiB now');
  });

  it('rates the same growth a warning when it would take between 5% and 25% of memory a day', () => {
    // 3.1 MiB/s is ~270 GB a day: 5-25% of memory on a node with 2 TiB.
    const { findings } = analyzeSlab(parsed(growingFiles, 2 * 1024 ** 3), params);
    expect(findings.map((f) => f.severity)).toEqual(['warning']);
  });

  it('does not report growth that would take less than 5% of memory a day', () => {
    expect(analyzeSlab(parsed(growingFiles, 8 * 1024 ** 3), params).findings).toEqual([]);
  });

  it('does not call a burst followed by a plateau steady', () => {
    const burst = ['slabinfo-0.txt', 'slabinfo-4.txt', 'slabinfo-4.txt', 'slabinfo-4.txt', 'slabinfo-4.txt'];
    expect(analyzeSlab(parsed(burst), params).findings).toEqual([]);
  });

  it('does not report shrinking caches, and lists only growing ones in the summary', () => {
    const { findings, summary } = analyzeSlab(parsed([...growingFiles].reverse()), params);
    expect(findings).toEqual([]);
    expect(summary['top.shmem_inode_cache']).toBeUndefined();
    expect(summary.totalGrowthBytes).toBeLessThan(0);
    expect(summary.growthKiBPerSecond).toBeCloseTo((summary.totalGrowthBytes as number) / 1024 / (summary.windowSeconds as number), 0);
  });

  it('does not report a quiet node (recorded)', () => {
    const { findings, summary } = analyzeSlab(parsed(['slabinfo-quiet-0.txt', 'slabinfo-quiet-1.txt', 'slabinfo-quiet-2.txt']), params);
    expect(findings).toEqual([]);
    expect(summary.caches).toBeGreaterThan(100);
  });

  it('needs at least two intervals to call growth steady', () => {
    expect(slabThresholds.minIntervals).toBe(2);
    expect(analyzeSlab(parsed(['slabinfo-0.txt', 'slabinfo-4.txt']), params).findings).toEqual([]);
  });

  it('falls back to the 1 MiB floor when memory size is unknown', () => {
    expect(analyzeSlab(parsed(growingFiles, null), params).findings.map((f) => f.severity)).toEqual(['warning']);
  });
});
