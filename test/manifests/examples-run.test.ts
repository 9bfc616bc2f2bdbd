import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveCaptureEntry } from '../../api/v1alpha1/capture-entry.js';
import { investigationSpec } from '../../api/v1alpha1/investigation.js';
import { captureModules } from '../../node-agent/captures/registry.js';
import type { CaptureModule } from '../../node-agent/engine/capture.js';
import { unmetRequirement } from '../../node-agent/engine/requirements.js';
import type { CaptureOutcome } from '../../node-agent/engine/run.js';
import { createJournaledFilesystem, type JournaledFilesystem } from '../node-agent/captures/io-latency/journaled-filesystem.js';
import { nodeFacts, runForReal } from '../node-agent/captures/real-run.js';
import { closeWaitScript, stop } from '../node-agent/captures/tcp/netns.js';
import { type ExampleDoc, exampleFiles, readmeExamples } from './example-docs.js';

/**
 * Every example investigation runs here as written (only shorter) through the local engine on
 * this kernel, and must produce what its description promises. The real-node tests run them
 * through the cluster.
 */
// Long enough for bpftrace to compile and attach on a busy machine (its window ends on time regardless).
const windowSeconds = 12;
const run = promisify(execFile);

interface Workload {
  /** The journaled ext4 filesystem (loop device) the writer keeps committing to. */
  journal: JournaledFilesystem;
  /** "major:minor" of its device, as the ftrace capture groups latencies. */
  journalDev: string;
}

interface Promised {
  /** The words of the description this checks. */
  what: string;
  /** The capture (its name in the report). */
  capture: string;
  check(outcome: CaptureOutcome, workload: Workload): void;
}

const fragmentation: Promised = {
  what: 'how fragmented the free memory is',
  capture: 'memory',
  check: (o) => {
    const indexes = Object.entries(o.summary).filter(([key]) => /\.unusableIndexOrder3$/.test(key));
    expect(indexes.length).toBeGreaterThan(0);
    for (const [, value] of indexes) expect(value).toBeGreaterThanOrEqual(0);
  },
};
const slabGrowth: Promised = {
  what: 'which slab caches grow',
  capture: 'slab',
  check: (o) => {
    expect(o.summary.caches).toBeGreaterThan(10);
    expect(typeof o.summary.totalGrowthBytes).toBe('number');
  },
};
const kernelCpu: Promised = {
  what: 'where the kernel spends CPU',
  capture: 'cpu-profile',
  check: (o) => {
    expect(o.summary.kernelSamples).toBeGreaterThan(0);
    expect(typeof o.summary.topKernelFunction).toBe('string');
    expect(o.artifacts.map((a) => a.name)).toContain('cpu-profile-flamegraph.svg');
  },
};
const kernelLog = (scope: string): Promised => ({
  what: 'the kernel log',
  capture: 'kernel-log',
  check: (o) => {
    expect(o.summary.scope).toBe(scope);
    expect(typeof o.summary.records).toBe('number');
    expect(o.summary.rules).toBeGreaterThan(10);
  },
});
const closeWait: Promised = {
  what: 'CLOSE_WAIT backlogs',
  capture: 'tcp',
  // The workload holds 5 CLOSE_WAIT sockets with 100 unread bytes each on the host's loopback.
  check: (o) => expect(o.summary.closeWaitWithData).toBeGreaterThanOrEqual(5),
};
const journalStalls: Promised = {
  what: 'journal write stalls',
  capture: 'journal-events',
  check: (o, w) => {
    expect(String(o.summary[`latency.jbd2-commit.${w.journalDev}`]), JSON.stringify(o.summary)).toMatch(/^[1-9]\d* matched, avg \d+ us/);
    expect(String(o.summary[`latency.jbd2-locked.${w.journalDev}`]), JSON.stringify(o.summary)).toMatch(/^[1-9]\d* matched/);
    expect(o.summary.unpairedEvents).toBeUndefined();
  },
};
const blockLatency: Promised = {
  what: 'block I/O latency outliers',
  capture: 'io-latency',
  check: (o, w) => {
    expect(o.summary[`${w.journal.name}.requests`] ?? 0, JSON.stringify(o.summary)).toBeGreaterThan(0);
    expect(typeof o.summary[`${w.journal.name}.outliers`]).toBe('number');
    expect(o.summary[`${w.journal.name}.commits`] ?? 0, JSON.stringify(o.summary)).toBeGreaterThan(0);
  },
};
const allocationStalls: Promised = {
  what: 'allocation stalls',
  capture: 'memory',
  check: (o) => {
    expect(typeof o.summary.allocStall).toBe('number');
    expect(typeof o.summary.compactStall).toBe('number');
  },
};
const slowCheckpoints = [blockLatency, allocationStalls, slabGrowth, kernelLog('since boot'), journalStalls];

/** What each example's description promises, by where it is shown. */
const promises: Record<string, Promised[]> = {
  'manifests/examples/investigation-allocation-failures.yaml': [
    {
      what: 'who allocates what in the kernel',
      capture: 'kmalloc',
      check: (o) => {
        expect(o.summary.kmallocCalls).toBeGreaterThan(0);
        expect(o.summary['site.1']).toMatch(/\d+ calls$/);
        expect(o.summary['process.1']).toMatch(/\d+ calls$/);
      },
    },
    fragmentation,
    slabGrowth,
    {
      what: 'a bug-report bundle',
      capture: 'bundle',
      check: (o) => {
        expect(o.artifacts.map((a) => a.name)).toContain('bundle-bundle.tar.gz');
        expect(o.summary.files).toBeGreaterThan(10);
      },
    },
  ],
  'manifests/examples/investigation-connection-hangs.yaml': [
    closeWait,
    { what: 'retransmits', capture: 'tcp', check: (o) => expect(o.summary.retransmitsByRemote).not.toMatch(/^not traced/) },
    { ...kernelCpu, what: 'profile the kernel while it happens' },
    kernelLog('window'),
  ],
  'manifests/examples/investigation-quick-health.yaml': [
    fragmentation,
    slabGrowth,
    { what: 'TCP state', capture: 'tcp', check: (o) => expect(typeof o.summary.currEstab).toBe('number') },
    kernelLog('since boot'),
    kernelCpu,
  ],
  'manifests/examples/investigation-slow-checkpoints.yaml': slowCheckpoints,
  'manifests/examples/investigation-reproduce-connection-hangs.yaml': [
    {
      what: 'the reproducer’s failure rate',
      capture: 'workload-tcp-churn',
      check: (o) => {
        expect(o.summary.connections).toBeGreaterThan(100);
        expect(o.summary.failurePercent).toBeGreaterThanOrEqual(0);
        expect(o.summary.p99Ms).toBeGreaterThan(0);
      },
    },
    { what: 'retransmit rate', capture: 'tcp', check: (o) => expect(typeof o.summary.retransmitPercent).toBe('number') },
    { ...kernelCpu, what: 'kernel CPU share' },
  ],
  // The baseline window is the same captures without the workload (the e2e and real-node tests run
  // both windows through the operator); here the workload window's promises.
  'manifests/examples/investigation-reproduce-against-baseline.yaml': [
    {
      what: 'the reproducer’s own failure rate and latency',
      capture: 'workload-tcp-churn',
      check: (o) => {
        expect(o.summary.connections).toBeGreaterThan(100);
        expect(typeof o.summary.failurePercent).toBe('number');
        expect(o.summary.p99Ms).toBeGreaterThan(0);
      },
    },
    {
      what: 'the TCP traffic and retransmit rate',
      capture: 'tcp',
      check: (o) => {
        expect(o.summary.outSegs, JSON.stringify(o.summary)).toBeGreaterThan(100);
        expect(o.summary.windowSeconds).toBeGreaterThan(0);
        expect(typeof o.summary.retransmitPercent).toBe('number');
      },
    },
  ],
  'manifests/examples/investigation-reproduce-slow-fsync.yaml': [
    {
      what: 'the fsync failures (slower than 1 s) and the reproducer’s figures',
      capture: 'workload-fs-sync',
      check: (o) => {
        expect(o.summary.files).toBeGreaterThan(5);
        expect(o.summary.succeeded).toBe(o.summary.files);
        expect(typeof o.summary.failurePercent).toBe('number');
        expect(o.summary.p50Ms).toBeGreaterThan(0);
      },
    },
    {
      what: 'block and commit percentiles',
      capture: 'io-latency',
      check: (o) => {
        expect(o.summary.p50Ms).toBeGreaterThan(0);
        expect(o.summary.p99Ms).toBeGreaterThanOrEqual(o.summary.p50Ms as number);
      },
    },
  ],
  'README.md#1': slowCheckpoints,
};

const investigations = [...exampleFiles(), ...readmeExamples()].filter((e) => e.kind === 'KernelInvestigation');
let workload: Workload;
let closeWaitHolder: ChildProcess | undefined;
let stopWriting: (() => Promise<void>) | undefined;

beforeAll(async () => {
  await nodeFacts();
  const journal = createJournaledFilesystem();
  if (typeof journal === 'string') throw new Error(journal);
  const { stdout } = await run('lsblk', ['-dno', 'MAJ:MIN', journal.device]);
  workload = { journal, journalDev: stdout.trim() };
  // Writes with fsync every 200 ms: journal commits and block requests all through each window.
  let writing = true;
  const writer = (async () => {
    while (writing) {
      await run('dd', ['if=/dev/zero', `of=${join(journal.mountPoint, 'synced.bin')}`, 'bs=64k', 'count=16', 'conv=fsync']).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  stopWriting = async () => {
    writing = false;
    await writer;
  };
  closeWaitHolder = spawn(process.execPath, ['-e', closeWaitScript(5, 0, 100)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    closeWaitHolder!.stdout!.once('data', () => resolve());
    closeWaitHolder!.once('exit', (code) => reject(new Error(`the CLOSE_WAIT holder exited with ${code}`)));
  });
});

afterAll(async () => {
  await stopWriting?.();
  await stop(closeWaitHolder);
  workload?.journal.remove();
});

describe('every example investigation, run on this kernel', () => {
  it('has its promises written down here', () => {
    expect(investigations.map((e) => e.source).sort()).toEqual(Object.keys(promises).sort());
  });

  it.each(investigations.map((e) => [e.source, e] as [string, ExampleDoc]))('%s produces what its description promises', async (source, example) => {
    const spec = investigationSpec.parse(example.spec);
    const real = await runForReal(spec.captures, windowSeconds, spec.workload ? { workload: spec.workload } : {});
    try {
      const facts = await nodeFacts();
      for (const promised of promises[source]!) {
        const outcome = real.report.captures.find((c) => c.name === promised.capture);
        expect(outcome, `${source}: no capture ${promised.capture} (for "${promised.what}")`).toBeDefined();
        if (outcome!.state === 'Unsupported') {
          // Only for what this kernel lacks, and saying so.
          const entry = spec.captures.map(resolveCaptureEntry).find((c) => c.name === promised.capture)!;
          const module = captureModules[entry.kind] as CaptureModule;
          expect(outcome, `${source}: ${promised.capture}`).toMatchObject(
            unmetRequirement(module.requirements(entry.params as never), facts) ?? { state: 'Succeeded' },
          );
          continue;
        }
        expect(outcome!.state, `${source}: ${promised.capture} for "${promised.what}": ${outcome!.message}`).toBe('Succeeded');
        promised.check(outcome!, workload);
      }
    } finally {
      await real.cleanup();
    }
  });
});
