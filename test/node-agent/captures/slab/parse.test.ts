import { describe, expect, it } from 'vitest';
import { parseSlab } from '../../../../node-agent/captures/slab/parse.js';
import { parseSlabinfo } from '../../../../node-agent/procfs/slabinfo.js';
import { fixture } from '../../fixtures.js';

describe('parseSlabinfo (recorded on this VM)', () => {
  it('reads every cache line with its object and slab counts', () => {
    const text = fixture('slab', 'slabinfo-4.txt');
    const caches = parseSlabinfo(text);
    // Every line after the two header lines is a cache.
    expect(caches).toHaveLength(text.trim().split('\n').length - 2);
    expect(caches.find((c) => c.name === 'shmem_inode_cache')).toEqual({
      name: 'shmem_inode_cache',
      activeObjs: 17556,
      numObjs: 17556,
      objSize: 752,
      objPerSlab: 21,
      pagesPerSlab: 4,
      activeSlabs: 836,
      numSlabs: 836,
    });
    for (const cache of caches) {
      expect(cache.activeObjs).toBeLessThanOrEqual(cache.numObjs);
      expect(cache.objSize).toBeGreaterThan(0);
    }
  });

  it('refuses text that is not slabinfo 2.x, saying why', () => {
    expect(() => parseSlabinfo('MemTotal: 1 kB\n')).toThrow(/does not start with "slabinfo - version: 2.x"/);
    expect(() => parseSlabinfo('slabinfo - version: 1.1\n')).toThrow(/version 1\.1 is not supported/);
  });

  it('keeps the readings of a run in order with their times', () => {
    const parsed = parseSlab({
      intervalSeconds: 1,
      pageSizeBytes: 4096,
      memTotalKb: 24683656,
      readings: [0, 1].map((i) => ({ atMs: i * 1000, data: fixture('slab', `slabinfo-${i}.txt`) })),
    });
    expect(parsed.readings.map((r) => r.atMs)).toEqual([0, 1000]);
    expect(parsed.readings[1]!.caches.find((c) => c.name === 'shmem_inode_cache')?.numObjs).toBe(4452);
    expect(parsed.memTotalKb).toBe(24683656);
  });
});
