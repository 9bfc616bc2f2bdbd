import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ftraceCapture } from '../../../../node-agent/captures/ftrace/index.js';
import { recoverKernelState } from '../../../../node-agent/engine/journal.js';
import type { NodeFacts } from '../../../../node-agent/engine/probe.js';
import { runCaptures } from '../../../../node-agent/engine/run.js';
import { createInstance, instancePrefix } from '../../../../node-agent/engine/tracefs.js';
import { nodeFacts, runForReal, type RealRun } from '../real-run.js';
import { captureModules } from '../../../../node-agent/captures/registry.js';

const run = promisify(execFile);
const log = pino({ level: 'silent' });
let facts: NodeFacts;
let tracefs: string;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  facts = await nodeFacts();
  tracefs = facts.tracefs!;
});

/** ftrace instances this test process made (other engineers' runs may have their own). */
async function ourInstances(): Promise<string[]> {
  return (await readdir(join(tracefs, 'instances'))).filter((name) => name.startsWith(`${instancePrefix}ftrace-${process.pid}-`));
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  expect(await ourInstances()).toEqual([]);
});

/** A private directory, removed after the test. */
async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ksleuth-ftrace-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs captures through the engine; their directories are removed after the test. */
async function capture(...args: Parameters<typeof runForReal>): Promise<RealRun> {
  const result = await runForReal(...args);
  cleanups.push(result.cleanup);
  return result;
}

/** A pid that is not running: a child that has exited. */
function deadPid(): number {
  return spawnSync('true').pid!;
}

describe('the ftrace capture on this kernel', () => {
  it('traces events in a private instance with its own buffer size, then removes the instance', async () => {
    const root = await scratchDir();
    let bufferSizeSeen: string | undefined;
    // Reads the instance's buffer size while it exists (it may vanish between listing and reading).
    const watcher = setInterval(() => {
      void ourInstances()
        .then(([name]) => (name ? readFile(join(tracefs, 'instances', name, 'buffer_size_kb'), 'utf8') : undefined))
        .then((size) => {
          if (size) bufferSizeSeen = size.trim();
        })
        .catch(() => undefined);
    }, 200);
    const writer = setInterval(
      () => void run('dd', ['if=/dev/zero', `of=${join(root, 'f')}`, 'bs=64k', 'count=8', 'oflag=direct']).catch(() => undefined),
      300,
    );
    try {
      const { report, outDir, stateDir } = await capture(
        [{ ftrace: { mode: 'events', events: ['block:block_rq_*', 'sched:sched_process_exec'], bufferSizeKb: 512 } }],
        3,
      );
      const outcome = report.captures[0]!;
      expect(outcome).toMatchObject({ state: 'Succeeded', kind: 'ftrace' });
      expect(outcome.summary.totalEvents).toBeGreaterThan(0);
      expect(outcome.summary['event.block_rq_issue']).toBeGreaterThan(0);
      expect(outcome.summary['event.sched_process_exec']).toBeGreaterThan(0);
      expect(Object.keys(outcome.summary).some((k) => k.startsWith('latency.block-request.'))).toBe(true);
      // The kernel rounds the size up to whole sub-buffers (it reads back 513 here).
      expect(Number(bufferSizeSeen)).toBeGreaterThanOrEqual(512);
      expect(Number(bufferSizeSeen)).toBeLessThan(512 + 16);
      expect(await readdir(outDir)).toContain('ftrace-trace.txt');
      expect(await readdir(stateDir)).toEqual([]);
    } finally {
      clearInterval(watcher);
      clearInterval(writer);
    }
  });

  it('ends the function mode Unsupported when it asks: this kernel lists the function tracer and refuses it', async () => {
    expect((await nodeFacts()).capabilities.tracers).toContain('function');
    const { report, stateDir } = await capture([{ ftrace: { mode: 'function', functions: ['vfs_write'] } }], 1);
    expect(report.captures[0]).toMatchObject({
      state: 'Unsupported',
      reason: 'TracerRefused',
      message: expect.stringMatching(
        /^the function tracer is refused by this kernel \(writing set_ftrace_filter in a private instance fails with EPERM\); ftrace events mode/,
      ),
    });
    expect(await ourInstances()).toEqual([]);
    expect(await readdir(stateDir)).toEqual([]);
  });

  it('ends the function_graph mode Unsupported: this kernel has no function_graph tracer', async () => {
    const { report } = await capture([{ ftrace: { mode: 'function_graph', functions: ['vfs_write'], maxDepth: 4 } }], 1);
    expect(report.captures[0]).toMatchObject({
      state: 'Unsupported',
      reason: 'TracerUnavailable',
      message: expect.stringMatching(/does not offer the function_graph tracer .*CONFIG_FUNCTION_GRAPH_TRACER=y/),
    });
  });

  it('removes the instance when setting it up fails half way', async () => {
    // The node claims an event that the kernel does not have: enabling it fails after the instance exists.
    const lying = { ...facts, events: new Set([...facts.events, 'block:block_rq_imaginary']) };
    const { report } = await capture([{ ftrace: { mode: 'events', events: ['block:block_rq_issue', 'block:block_rq_imaginary'] } }], 2, { facts: lying });
    expect(report.captures[0]).toMatchObject({ state: 'Failed', reason: 'EventRefused', message: expect.stringMatching(/block:block_rq_imaginary/) });
  });

  it('refuses an event pattern that matches nothing, naming the entry', async () => {
    const { report } = await capture([{ ftrace: { mode: 'events', events: ['nosuch:*'] } }], 1);
    expect(report.captures[0]).toMatchObject({ state: 'Failed', reason: 'EventNotFound', message: expect.stringMatching(/^events\[0\] "nosuch:\*"/) });
  });

  it('refuses events mode without events, as the CRD does', async () => {
    // Past the schema, which refuses it too: straight to the engine.
    const dir = await scratchDir();
    const report = await runCaptures({
      captures: [{ kind: 'ftrace', name: 'ftrace', params: { mode: 'events', maxDepth: 8, bufferSizeKb: 4096 } }],
      durationSeconds: 1,
      facts,
      log,
      outDir: join(dir, 'out'),
      stateDir: join(dir, 'state'),
      modules: captureModules,
    });
    expect(report.captures[0]).toMatchObject({ state: 'Failed', reason: 'InvalidParams', message: expect.stringMatching(/^events: /) });
  });

  it('removes the instance when the capture is cancelled mid-window', async () => {
    const cancel = new AbortController();
    let sawInstance = false;
    const watcher = setInterval(() => {
      void ourInstances()
        .then((names) => {
          if (names.length) sawInstance = true;
        })
        .catch(() => undefined);
    }, 100);
    setTimeout(() => cancel.abort(), 1500);
    try {
      const { report } = await capture([{ ftrace: { mode: 'events', events: ['sched:sched_switch'] } }], 30, { signal: cancel.signal });
      expect(report.captures[0]).toMatchObject({ state: 'Failed', reason: 'Cancelled' });
      expect(sawInstance).toBe(true);
    } finally {
      clearInterval(watcher);
    }
  });
});

describe('after a crash', () => {
  it('removes an instance named as if by a dead agent', async () => {
    const stateDir = join(await scratchDir(), 'state');
    const instance = await createInstance(tracefs, 'ftrace', deadPid());
    expect(existsSync(instance)).toBe(true);
    const report = await recoverKernelState(stateDir, log);
    expect(report.staleInstances).toContain(instance);
    expect(existsSync(instance)).toBe(false);
  });

  it('removes an instance recorded in the journal of a dead agent', async () => {
    const stateDir = join(await scratchDir(), 'state');
    // Named with a live pid, so only the journal says it is left over.
    const instance = await createInstance(tracefs, 'ftrace');
    await mkdir(stateDir, { recursive: true });
    const owner = deadPid();
    await writeFile(
      join(stateDir, `kernel-state-${owner}.json`),
      JSON.stringify({ ownerPid: owner, entries: { '0': { type: 'tracefs-instance', path: instance } } }),
    );
    const report = await recoverKernelState(stateDir, log);
    expect(report.undone).toEqual([{ type: 'tracefs-instance', path: instance }]);
    expect(existsSync(instance)).toBe(false);
    expect(await readdir(stateDir)).toEqual([]);
  });

  it('records the instance in the journal while the capture runs', async () => {
    let journalled: unknown[] = [];
    const module = {
      ...ftraceCapture,
      run: async (ctx: Parameters<typeof ftraceCapture.run>[0]) => {
        const raw = ftraceCapture.run(ctx);
        await new Promise((resolve) => setTimeout(resolve, 500));
        journalled = ctx.journal.pending;
        return raw;
      },
    };
    const { report } = await capture([{ ftrace: { mode: 'events', events: ['sched:sched_process_exec'] } }], 2, { modules: { ftrace: module as never } });
    expect(report.captures[0]!.state).toBe('Succeeded');
    expect(journalled).toEqual([{ type: 'tracefs-instance', path: expect.stringMatching(new RegExp(`/instances/${instancePrefix}ftrace-${process.pid}-`)) }]);
  });
});
