import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { resolveCaptureEntry } from '../../../api/v1alpha1/capture-entry.js';
import { CaptureError, type CaptureModule } from '../../../node-agent/engine/capture.js';
import { runCaptures, uniqueNames } from '../../../node-agent/engine/run.js';
import { startProcess } from '../../../node-agent/engine/process.js';
import { sha256File } from '../../../node-agent/engine/artifacts.js';
import { fakeNodeFacts } from '../fake-facts.js';

const log = pino({ level: 'silent' });

const facts = fakeNodeFacts({
  refusedTracers: new Map([['function', 'writing it to current_tracer fails with EPERM']]),
  events: new Set(['kmem:kmalloc']),
  tools: new Set(['tar']),
  readableFiles: new Set(['/proc/meminfo']),
});

// Fakes stand in for real captures here: this tests the runner's contract, not a capture.
function fake(kind: 'memory' | 'slab' | 'tcp' | 'ftrace', run: CaptureModule['run'], requirements: CaptureModule['requirements'] = () => []): CaptureModule {
  return {
    kind,
    title: kind,
    requirements,
    run,
    parse: (raw) => raw,
    analyze: (parsed) => ({
      summary: { value: parsed as number },
      findings: [
        { pattern: 'slab-growth', severity: (parsed as number) > 1 ? 'critical' : 'info', title: `${kind} finding`, evidence: [], recommendation: 'r' },
      ],
    }),
  };
}

async function dirs() {
  const root = await mkdtemp(join(tmpdir(), 'ksleuth-run-'));
  return { outDir: join(root, 'out'), stateDir: join(root, 'state') };
}

describe('runCaptures', () => {
  it('runs captures at once, reports each outcome, and sorts findings most severe first', async () => {
    const started: number[] = [];
    const modules = {
      memory: fake('memory', async (ctx) => {
        started.push(Date.now());
        await ctx.artifacts.write('raw.txt', 'raw output', 'text/plain');
        await sleep(200);
        return 1;
      }),
      slab: fake('slab', async () => {
        started.push(Date.now());
        await sleep(200);
        return 2;
      }),
      tcp: fake('tcp', async () => {
        throw new CaptureError('ToolFailed', 'ss exited with code 1');
      }),
      ftrace: fake(
        'ftrace',
        async () => 0,
        () => [{ tracer: 'function' }],
      ),
    };
    const report = await runCaptures({
      captures: ['memory', 'slab', 'tcp', 'ftrace'].map((kind) =>
        resolveCaptureEntry({ [kind]: kind === 'ftrace' ? { mode: 'function', functions: ['vfs_write'] } : {} }),
      ),
      durationSeconds: 1,
      facts,
      log,
      modules,
      ...(await dirs()),
    });
    expect(Math.abs(started[0]! - started[1]!)).toBeLessThan(150);
    expect(report.captures.map((c) => [c.name, c.state, c.reason])).toEqual([
      ['memory', 'Succeeded', undefined],
      ['slab', 'Succeeded', undefined],
      ['tcp', 'Failed', 'ToolFailed'],
      ['ftrace', 'Unsupported', 'TracerUnavailable'],
    ]);
    expect(report.captures[3]!.message).toMatch(/function tracer is refused by this kernel \(writing it to current_tracer fails with EPERM\)/);
    expect(report.findings.map((f) => [f.capture, f.severity])).toEqual([
      ['slab', 'critical'],
      ['memory', 'info'],
    ]);
    const artifact = report.artifacts[0]!;
    expect(artifact).toMatchObject({ name: 'memory-raw.txt', capture: 'memory', sizeBytes: 10 });
  });

  it('keeps artifacts whose sha256 matches the file', async () => {
    const { outDir, stateDir } = await dirs();
    const report = await runCaptures({
      captures: [resolveCaptureEntry({ memory: {} })],
      durationSeconds: 1,
      facts,
      log,
      outDir,
      stateDir,
      modules: {
        memory: fake('memory', async (ctx) => {
          await ctx.artifacts.write('x.bin', Buffer.from([1, 2, 3]), 'application/octet-stream');
          return 0;
        }),
      },
    });
    const ref = report.artifacts[0]!;
    expect(await sha256File(join(outDir, ref.name))).toBe(ref.sha256);
    expect((await readdir(outDir)).filter((f) => f.startsWith('.work'))).toEqual([]);
  });

  it('kills a capture that overruns its deadline, with its child processes, and reports TimedOut', async () => {
    const { outDir, stateDir } = await dirs();
    let childPid = 0;
    const report = await runCaptures({
      captures: [resolveCaptureEntry({ memory: {} })],
      durationSeconds: 1,
      graceSeconds: 1,
      cleanupGraceSeconds: 1,
      facts,
      log,
      outDir,
      stateDir,
      modules: {
        memory: fake('memory', async (ctx) => {
          const child = startProcess('sleep', ['600'], { signal: ctx.signal, journal: ctx.journal });
          childPid = child.pid;
          await child.done;
          await sleep(60_000);
          return 0;
        }),
      },
    });
    expect(report.captures[0]).toMatchObject({ state: 'TimedOut', reason: 'DeadlineExceeded' });
    await sleep(100);
    expect(() => process.kill(childPid, 0)).toThrow();
    // The journal is closed and removed when the run ends.
    expect(await readdir(stateDir)).toEqual([]);
  });

  it('stops every capture on cancel', async () => {
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(), 200);
    const report = await runCaptures({
      captures: [resolveCaptureEntry({ memory: {} })],
      durationSeconds: 30,
      facts,
      log,
      signal: cancel.signal,
      ...(await dirs()),
      modules: {
        memory: fake('memory', async (ctx) => {
          await sleep(30_000, undefined, { signal: ctx.signal });
          return 0;
        }),
      },
    });
    expect(report.captures[0]).toMatchObject({ state: 'Failed', reason: 'Cancelled' });
  });

  it('reports a cancelled capture only once it has cleaned up after itself', async () => {
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(), 200);
    let restored = false;
    const report = await runCaptures({
      captures: [resolveCaptureEntry({ memory: {} })],
      durationSeconds: 30,
      facts,
      log,
      signal: cancel.signal,
      ...(await dirs()),
      modules: {
        memory: fake('memory', async (ctx) => {
          try {
            await sleep(30_000, undefined, { signal: ctx.signal });
          } finally {
            // Like removing a tracefs instance: slow on a busy kernel.
            await sleep(500);
            restored = true;
          }
          return 0;
        }),
      },
    });
    expect(report.captures[0]).toMatchObject({ state: 'Failed', reason: 'Cancelled' });
    expect(restored).toBe(true);
  });

  it('names two unnamed captures of one kind apart', () => {
    const names = uniqueNames([resolveCaptureEntry({ slab: {} }), resolveCaptureEntry({ slab: {} }), resolveCaptureEntry({ name: 'slab-2', memory: {} })]).map(
      (c) => c.name,
    );
    expect(new Set(names).size).toBe(3);
  });
});

describe('the kernel-state journal', () => {
  it('records a running tracer process and a crash recovery kills it', async () => {
    const { stateDir } = await dirs();
    const { KernelStateJournal, recoverKernelState } = await import('../../../node-agent/engine/journal.js');
    const journal = KernelStateJournal.open(stateDir, log);
    const child = startProcess('sleep', ['600'], { journal });
    const journaled = async (): Promise<number[]> => {
      const text = await readFile(join(stateDir, `kernel-state-${process.pid}.json`), 'utf8').catch(() => '{"entries":{}}');
      return Object.values((JSON.parse(text) as { entries: Record<string, { pid: number }> }).entries).map((e) => e.pid);
    };
    // The journal is written in the background; on a loaded machine that can take a while.
    await expect.poll(journaled, { timeout: 10_000 }).toEqual([child.pid]);
    // Pretend this process crashed: recovery by a new run undoes what the journal holds.
    const report = await recoverKernelState(stateDir, log);
    expect(report.undone).toHaveLength(1);
    const result = await child.done;
    expect(result.signal).toBe('SIGKILL');
  });
});
