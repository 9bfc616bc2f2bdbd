import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { resolveWorkload, type Workload } from '../../../api/v1alpha1/workloads.js';
import { finding } from '../../../api/v1alpha1/finding.js';
import { nodeFigures } from '../../../lib/figures.js';
import type { NodeFacts } from '../../../node-agent/engine/probe.js';
import { runCaptures } from '../../../node-agent/engine/run.js';
import { closeWaitState, parseProcNetTcp } from '../../../node-agent/procfs/net-tcp.js';
import { workloadModules } from '../../../node-agent/reproducers/registry.js';

/*
 * The reproducers on the real kernel: loopback connections and a temporary directory, run by the
 * capture engine exactly as the worker runs spec.workload beside the captures.
 */

const log = pino({ level: 'silent' });
const facts = { hostname: 'test', kernelVersion: '6.18', osImage: 'Test', architecture: 'amd64' } as NodeFacts;

async function run(workload: Workload, durationSeconds = 2) {
  const base = await mkdtemp(join(tmpdir(), 'ksleuth-repro-'));
  const report = await runCaptures({
    captures: [],
    workload: resolveWorkload(workload),
    workloadModules,
    durationSeconds,
    facts,
    log,
    modules: {},
    outDir: join(base, 'out'),
    stateDir: join(base, 'state'),
  });
  expect(report.captures).toHaveLength(1);
  return { outcome: report.captures[0]!, base };
}

function closeWaitOn(port: number, text: string): number {
  return parseProcNetTcp(text).filter((s) => s.state === closeWaitState && s.local.port === port).length;
}

describe('tcp-churn on loopback', () => {
  it('opens many short connections for the window and reports failures, timeouts and latency percentiles', async () => {
    const { outcome } = await run({ tcpChurn: { concurrency: 4 } });
    expect(outcome).toMatchObject({ name: 'workload-tcp-churn', kind: 'tcp-churn', state: 'Succeeded' });
    const s = outcome.summary;
    expect(s.connections).toBeGreaterThan(100);
    expect(s.succeeded).toBe(s.connections);
    expect(s).toMatchObject({ failed: 0, timeouts: 0, errors: 0, failurePercent: 0 });
    expect(s.p50Ms).toBeGreaterThan(0);
    expect(s.p99Ms).toBeGreaterThanOrEqual(s.p50Ms as number);
    expect(s.windowSeconds).toBeGreaterThanOrEqual(1.9);
    expect(outcome.findings).toEqual([]);
    expect(nodeFigures([{ kind: outcome.kind, state: outcome.state, summary: outcome.summary }])).toEqual({
      'reproducer-failure-percent': 0,
      'reproducer-p99-ms': s.p99Ms,
    });
  }, 20_000);

  it('stops at maxConnections before the window ends', async () => {
    const { outcome } = await run({ tcpChurn: { maxConnections: 50, concurrency: 8 } });
    expect(outcome.summary).toMatchObject({ connections: 50, succeeded: 50 });
  }, 20_000);
});

describe('fs-sync in a temporary directory', () => {
  it('creates, writes, fsyncs and unlinks files under the path, reports fsync latency, and removes its directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ksleuth-fs-sync-target-'));
    const { outcome } = await run({ fsSync: { path: dir, fileBytes: 4096, concurrency: 2 } });
    expect(outcome).toMatchObject({ name: 'workload-fs-sync', kind: 'fs-sync', state: 'Succeeded' });
    const s = outcome.summary;
    expect(s.files).toBeGreaterThan(5);
    expect(s.succeeded).toBe(s.files);
    expect(s).toMatchObject({ errors: 0, timeouts: 0 });
    expect(s.p50Ms).toBeGreaterThan(0);
    expect(String(s.directory)).toMatch(new RegExp(`^${dir}/ksleuth-fs-sync-`));
    expect(await readdir(dir)).toEqual([]);
  }, 20_000);

  it('defaults to the run’s private directory on the agent’s state disk, and leaves nothing there', async () => {
    const { outcome, base } = await run({ fsSync: { fileBytes: 4096, maxFiles: 20 } });
    expect(outcome.summary).toMatchObject({ files: 20, succeeded: 20 });
    expect(String(outcome.summary.directory).startsWith(join(base, 'out'))).toBe(true);
    expect((await readdir(join(base, 'out'))).filter((f) => f.startsWith('.work'))).toEqual([]);
  }, 20_000);

  it('fails with a reason naming the field when the path cannot be used', async () => {
    const { outcome } = await run({ fsSync: { path: '/nonexistent-ksleuth/data' } }, 1);
    expect(outcome).toMatchObject({ state: 'Failed', reason: 'WorkloadPathUnusable' });
    expect(outcome.message).toMatch(/^spec\.workload\.fsSync\.path \/nonexistent-ksleuth\/data: the agent cannot create a directory there \(ENOENT\)/);
  }, 20_000);
});

describe('socket-leak on loopback', () => {
  it('leaves the server side of every connection in CLOSE_WAIT with the unread data until the window ends, then lets go', async () => {
    const { outcome } = await run({ socketLeak: { connections: 20, bytesPerConnection: 1000 } });
    expect(outcome).toMatchObject({ name: 'workload-socket-leak', kind: 'socket-leak', state: 'Succeeded' });
    expect(outcome.summary).toMatchObject({ connections: 20, succeeded: 20, failurePercent: 0, closeWaitSockets: 20, closeWaitUnreadBytes: 20 * 1000 });
    expect(outcome.findings).toEqual([]);
    // Nothing stays in CLOSE_WAIT on the server's port afterwards.
    const port = outcome.summary.serverPort as number;
    expect(port).toBeGreaterThan(0);
    expect(closeWaitOn(port, await readFile('/proc/net/tcp', 'utf8'))).toBe(0);
  }, 20_000);
});

describe('reproducer analysis (pure)', () => {
  it('turns timeouts and errors into a reproducer-failures finding with the figures as evidence', () => {
    const module = workloadModules['tcp-churn']!;
    const params = resolveWorkload({ tcpChurn: {} }).params;
    const record = {
      attempts: 1000,
      succeeded: 985,
      timeouts: 12,
      slow: 0,
      errors: { ECONNRESET: 3 },
      histogramUs: [0, 0, 0, 0, 0, 0, 0, 900, 85, 0, 0, 0, 0, 0, 0, 0, 0, 12, ...new Array(22).fill(0)],
      maxUs: 200_400,
      windowSeconds: 10,
    };
    const analysis = module.analyze(module.parse(record, params as never), params as never, facts);
    expect(analysis.summary).toMatchObject({
      connections: 1000,
      failed: 15,
      failurePercent: 1.5,
      timeouts: 12,
      'error.ECONNRESET': 3,
      p50Ms: 0.256,
      perSecond: 100,
    });
    expect(analysis.findings).toHaveLength(1);
    const f = analysis.findings[0]!;
    expect(f).toMatchObject({
      pattern: 'reproducer-failures',
      severity: 'critical',
      title: 'tcp-churn: 15 of 1000 connections failed or were too slow (1.50%)',
    });
    expect(f.evidence[0]).toBe('1000 connections in 10.0 s: 985 succeeded, 12 timed out, 3 failed with an error');
    expect(f.evidence).toContain('errors: ECONNRESET 3');
    expect(() => finding.parse(f)).not.toThrow();
  });

  it('keeps at most 16 distinct error codes', async () => {
    const { newRecord, recordError, maxErrorCodes } = await import('../../../node-agent/reproducers/operations.js');
    const record = newRecord();
    for (let i = 0; i < 40; i++) recordError(record, `E${i}`);
    expect(Object.keys(record.errors)).toHaveLength(maxErrorCodes);
    expect(record.errors.other).toBe(40 - (maxErrorCodes - 1));
  });
});

describe('spec.workload validation', () => {
  it('names the field and the limit', () => {
    expect(() => resolveWorkload({ tcpChurn: { concurrency: 1000 } })).toThrow(/^spec\.workload\.tcpChurn\.concurrency: .*64/);
    expect(() => resolveWorkload({ tcpChurn: {}, fsSync: {} })).toThrow(/spec\.workload: set exactly one reproducer: tcpChurn, fsSync, socketLeak/);
    expect(() => resolveWorkload({})).toThrow(/set exactly one reproducer/);
    expect(resolveWorkload({ socketLeak: {} })).toEqual({
      kind: 'socket-leak',
      name: 'workload-socket-leak',
      params: { connections: 64, bytesPerConnection: 4096 },
    });
  });
});
