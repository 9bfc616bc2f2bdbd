import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { slabCapture } from '../../../../node-agent/captures/slab/index.js';
import { unmetRequirement } from '../../../../node-agent/engine/requirements.js';
import { nodeFacts, runForReal } from '../real-run.js';

/** Creates empty files on tmpfs at a steady pace in a separate process: each costs a shmem inode and a dentry. */
function createFilesSteadily(dir: string, seconds: number, perSecond: number) {
  const script = `
    const fs = require('node:fs');
    const end = Date.now() + ${seconds * 1000};
    let n = 0;
    const tick = () => {
      for (let i = 0; i < ${perSecond / 20}; i++) fs.closeSync(fs.openSync(${JSON.stringify(dir)} + '/f' + n++, 'w'));
      if (Date.now() < end) setTimeout(tick, 50);
    };
    tick();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  return new Promise<number | null>((resolve) => child.on('close', resolve));
}

describe('slab capture on this machine', () => {
  it('samples /proc/slabinfo and finds the tmpfs inode cache growing while files are created', async () => {
    const dir = await mkdtemp('/dev/shm/ksleuth-slab-test-');
    try {
      const [run, creator] = await Promise.all([runForReal([{ slab: { intervalSeconds: 1, topN: 10 } }], 5), createFilesSteadily(dir, 6, 4000)]);
      expect(creator).toBe(0);
      try {
        const outcome = run.report.captures[0]!;
        expect(outcome).toMatchObject({ kind: 'slab', state: 'Succeeded' });
        expect(outcome.summary.readings).toBeGreaterThanOrEqual(5);
        expect(outcome.summary.caches).toBeGreaterThan(50);
        expect(outcome.summary.totalBytes).toBeGreaterThan(0);
        expect(outcome.summary['top.shmem_inode_cache']).toMatch(/^\+\d/);
        const finding = outcome.findings.find((f) => f.pattern === 'slab-growth');
        expect(finding?.evidence.some((line) => line.startsWith('shmem_inode_cache: '))).toBe(true);
        expect(outcome.artifacts.map((a) => a.name)).toEqual(['slab-slabinfo-start.txt', 'slab-slabinfo-end.txt']);
        expect(await readFile(join(run.outDir, 'slab-slabinfo-end.txt'), 'utf8')).toMatch(/^slabinfo - version: 2\.1/);
      } finally {
        await run.cleanup();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('needs root and a readable /proc/slabinfo, which this machine offers', async () => {
    const requirements = slabCapture.requirements({ intervalSeconds: 5, topN: 15 });
    expect(requirements).toEqual([{ root: true }, { file: '/proc/slabinfo' }]);
    const facts = await nodeFacts();
    expect(unmetRequirement(requirements, facts)).toBeUndefined();
    expect(unmetRequirement(requirements, { ...facts, capabilities: { ...facts.capabilities, root: false } })?.reason).toBe('NotPrivileged');
  });
});
