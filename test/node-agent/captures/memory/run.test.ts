import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryCapture } from '../../../../node-agent/captures/memory/index.js';
import { unmetRequirement } from '../../../../node-agent/engine/requirements.js';
import { nodeFacts, runForReal } from '../real-run.js';

describe('memory capture on this machine', () => {
  it('samples buddyinfo, vmstat and meminfo over the window and reports per-zone indexes', async () => {
    const run = await runForReal([{ memory: { intervalSeconds: 1 } }], 3);
    try {
      const outcome = run.report.captures[0]!;
      expect(outcome).toMatchObject({ kind: 'memory', state: 'Succeeded' });
      const summary = outcome.summary;
      expect(summary.readings).toBeGreaterThanOrEqual(3);
      expect(summary.memTotalKiB).toBeGreaterThan(0);
      expect(summary.memAvailableKiB).toBeGreaterThan(0);
      expect(summary.minFreeKbytes).toBeGreaterThan(0);
      const indexes = Object.entries(summary).filter(([key]) => key.endsWith('.unusableIndexOrder3'));
      expect(indexes.length).toBeGreaterThan(0);
      for (const [, value] of indexes) expect(value).toBeGreaterThanOrEqual(0);
      expect(outcome.artifacts.map((a) => a.name)).toEqual(['memory-readings.txt']);
      const readings = await readFile(join(run.outDir, 'memory-readings.txt'), 'utf8');
      expect(readings).toMatch(/==> \/proc\/buddyinfo at \+0\.0s <==\nNode 0, zone/);
      expect(readings).toMatch(/==> \/proc\/pagetypeinfo at the end <==/);
    } finally {
      await run.cleanup();
    }
  });

  it('declares the procfs files it needs, and this machine has them', async () => {
    const requirements = memoryCapture.requirements({ intervalSeconds: 5 });
    expect(requirements).toEqual([{ file: '/proc/buddyinfo' }, { file: '/proc/vmstat' }, { file: '/proc/meminfo' }]);
    const facts = await nodeFacts();
    expect(unmetRequirement(requirements, facts)).toBeUndefined();
    const without = { ...facts, readableFiles: new Set([...facts.readableFiles].filter((f) => f !== '/proc/vmstat')) };
    expect(unmetRequirement(requirements, without)).toEqual({ reason: 'FileUnreadable', message: '/proc/vmstat cannot be read on this node' });
  });
});
