import { closeSync, openSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { kmallocParams } from '../../../../api/v1alpha1/captures.js';
import { parseKmalloc } from '../../../../node-agent/captures/kmalloc/parse.js';
import { PodCgroup, writevAllocatorScript } from '../pod-cgroup.js';
import { nodeFacts, runForReal } from '../real-run.js';

const cleanups: (() => Promise<void>)[] = [];
// Probed before any test starts its workload, so the probe does not eat into it.
beforeAll(async () => {
  await nodeFacts();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe('the kmalloc capture on this kernel', () => {
  it('counts allocations by process and call site and tracks what stays allocated', async () => {
    // Each open of a /proc file allocates a 32-byte seq_operations at single_open, freed on close:
    // files opened during the window and still open at its end are outstanding there.
    const held: number[] = [];
    const opener = setInterval(() => {
      for (let i = 0; i < 10 && held.length < 600; i++) held.push(openSync('/proc/self/stat', 'r'));
    }, 50);
    try {
      const run = await runForReal([{ kmalloc: { maxTrackedAllocations: 16384 } }], 8);
      cleanups.push(run.cleanup);
      const outcome = run.report.captures[0]!;
      expect(outcome).toMatchObject({ state: 'Succeeded', kind: 'kmalloc' });
      expect(outcome.summary.kmallocCalls).toBeGreaterThan(0);
      expect(outcome.summary.callSites).toBeGreaterThan(0);
      expect(outcome.summary.windowSeconds).toBeGreaterThan(1);

      const raw = await readFile(join(run.outDir, 'kmalloc-bpftrace.json'), 'utf8');
      expect(raw).not.toContain('"@live"');
      const parsed = parseKmalloc(raw, kmallocParams.parse({ maxTrackedAllocations: 16384 }));
      expect(parsed.byProcess.length).toBeGreaterThan(0);
      expect(parsed.sizeHistogram.length).toBeGreaterThan(0);
      // bpftrace needs a second or two to start: at least the files opened after that are counted.
      expect(parsed.outstandingBySite.find((o) => o.site === 'single_open')?.bytes ?? 0).toBeGreaterThanOrEqual(100 * 32);
      expect(parsed.byProcessAndSite.some((p) => p.site === 'single_open' && p.calls >= 100)).toBe(true);
      // The journal is closed: no bpftrace left running, nothing pending.
      expect(await readdir(run.stateDir)).toEqual([]);
    } finally {
      clearInterval(opener);
      for (const fd of held) closeSync(fd);
    }
  });

  it('names the pod and container of an allocating process by its cgroup', async () => {
    const cgroup = await PodCgroup.create();
    cleanups.push(() => cgroup.remove());
    cgroup.start(writevAllocatorScript);
    const pod = { uid: cgroup.podUid, namespace: 'shop', name: 'alloc-1', owner: 'Deployment/alloc', containers: { [cgroup.containerId]: 'alloc' } };
    const run = await runForReal([{ kmalloc: { trackOutstanding: false } }], 6, { pods: [pod] });
    cleanups.push(run.cleanup);
    const outcome = run.report.captures[0]!;
    expect(outcome.state).toBe('Succeeded');
    const label = 'node (pod shop/alloc-1 container alloc (Deployment/alloc))';
    expect(outcome.summary.topProcess, JSON.stringify(outcome.summary)).toBe(label);
    const finding = outcome.findings.find((f) => f.title.startsWith('Process '));
    expect(finding?.title).toMatch(new RegExp(`^Process ${label.replace(/[()/]/g, '\\$&')} drives [\\d.]+ MiB/s of kmalloc$`));
    // Processes outside any pod are the host's.
    expect(Object.values(outcome.summary).some((v) => typeof v === 'string' && / \(host\): /.test(v))).toBe(true);
  });

  it('runs without the kfree probe when outstanding bytes are not wanted', async () => {
    const run = await runForReal([{ kmalloc: { trackOutstanding: false } }], 6);
    cleanups.push(run.cleanup);
    const outcome = run.report.captures[0]!;
    expect(outcome.state).toBe('Succeeded');
    expect(outcome.summary.kmallocCalls).toBeGreaterThan(0);
    expect(outcome.summary).not.toHaveProperty('outstandingBytes');
  });

  it('is Unsupported, with the package to install, on a node without bpftrace', async () => {
    const facts = await nodeFacts();
    const { bpftraceVersion: _ignored, ...capabilities } = facts.capabilities;
    const run = await runForReal([{ kmalloc: {} }], 1, { facts: { ...facts, capabilities } });
    cleanups.push(run.cleanup);
    expect(run.report.captures[0]).toMatchObject({ state: 'Unsupported', reason: 'ToolMissing', message: expect.stringMatching(/apt-get install bpftrace/) });
  });
});
