import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveCaptureEntry } from '../../../../api/v1alpha1/capture-entry.js';
import { kmallocParams } from '../../../../api/v1alpha1/captures.js';
import { parseKmalloc } from '../../../../node-agent/captures/kmalloc/parse.js';
import { probeNode, type NodeFacts } from '../../../../node-agent/engine/probe.js';
import { runCaptures } from '../../../../node-agent/engine/run.js';

const log = pino({ level: 'silent' });
let facts: NodeFacts;

beforeAll(async () => {
  facts = await probeNode();
});

async function dirs() {
  const root = await mkdtemp(join(tmpdir(), 'ksleuth-kmalloc-'));
  return { outDir: join(root, 'out'), stateDir: join(root, 'state') };
}

describe('the kmalloc capture on this kernel', () => {
  it('counts allocations by process and call site and tracks what stays allocated', async () => {
    const { outDir, stateDir } = await dirs();
    // Each open of a /proc file allocates a 32-byte seq_operations at single_open, freed on close:
    // files opened during the window and still open at its end are outstanding there.
    const held: number[] = [];
    const opener = setInterval(() => {
      for (let i = 0; i < 10 && held.length < 600; i++) held.push(openSync('/proc/self/stat', 'r'));
    }, 50);
    try {
      const report = await runCaptures({
        captures: [resolveCaptureEntry({ kmalloc: { maxTrackedAllocations: 16384 } })],
        durationSeconds: 8,
        facts,
        outDir,
        stateDir,
        log,
      });
      const outcome = report.captures[0]!;
      expect(outcome).toMatchObject({ state: 'Succeeded', kind: 'kmalloc' });
      expect(outcome.summary.kmallocCalls).toBeGreaterThan(0);
      expect(outcome.summary.callSites).toBeGreaterThan(0);
      expect(outcome.summary.windowSeconds).toBeGreaterThan(1);

      const raw = await readFile(join(outDir, 'kmalloc-bpftrace.json'), 'utf8');
      expect(raw).not.toContain('"@live"');
      const parsed = parseKmalloc(raw, kmallocParams.parse({ maxTrackedAllocations: 16384 }));
      expect(parsed.byProcess.length).toBeGreaterThan(0);
      expect(parsed.sizeHistogram.length).toBeGreaterThan(0);
      // bpftrace needs a second or two to start: at least the files opened after that are counted.
      expect(parsed.outstandingBySite.find((o) => o.site === 'single_open')?.bytes ?? 0).toBeGreaterThanOrEqual(100 * 32);
      expect(parsed.byProcessAndSite.some((p) => p.site === 'single_open' && p.calls >= 100)).toBe(true);
      // The journal is closed: no bpftrace left running, nothing pending.
      expect(await readdir(stateDir)).toEqual([]);
    } finally {
      clearInterval(opener);
      for (const fd of held) closeSync(fd);
    }
  });

  it('runs without the kfree probe when outstanding bytes are not wanted', async () => {
    const report = await runCaptures({
      captures: [resolveCaptureEntry({ kmalloc: { trackOutstanding: false } })],
      durationSeconds: 6,
      facts,
      log,
      ...(await dirs()),
    });
    const outcome = report.captures[0]!;
    expect(outcome.state).toBe('Succeeded');
    expect(outcome.summary.kmallocCalls).toBeGreaterThan(0);
    expect(outcome.summary).not.toHaveProperty('outstandingBytes');
  });

  it('is Unsupported, with the package to install, on a node without bpftrace', async () => {
    const { bpftraceVersion: _ignored, ...capabilities } = facts.capabilities;
    const report = await runCaptures({
      captures: [resolveCaptureEntry({ kmalloc: {} })],
      durationSeconds: 1,
      facts: { ...facts, capabilities },
      log,
      ...(await dirs()),
    });
    expect(report.captures[0]).toMatchObject({ state: 'Unsupported', reason: 'ToolMissing', message: expect.stringMatching(/apt-get install bpftrace/) });
  });
});
