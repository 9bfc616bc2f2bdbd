import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ArtifactDirectory } from '../../../node-agent/engine/artifacts.js';
import { bpftraceMessages, checkBpftraceProgram, monotonicNs, runBpftrace, type BpftraceContext } from '../../../node-agent/engine/bpftrace.js';
import { parseBpftraceOutput, scalarValue } from '../../../node-agent/engine/bpftrace-output.js';
import { CaptureError } from '../../../node-agent/engine/capture.js';
import { KernelStateJournal } from '../../../node-agent/engine/journal.js';

const log = pino({ level: 'silent' });
const memlockWarning =
  'ERROR: Unknown error -1: couldn\'t set RLIMIT_MEMLOCK for bpftrace. If your program is not loading, you can try "ulimit -l 8192" to fix the problem';

async function context(windowSeconds: number, signal = new AbortController().signal): Promise<BpftraceContext & { outDir: string; stateDir: string }> {
  const root = await mkdtemp(join(tmpdir(), 'ksleuth-bpftrace-'));
  const outDir = join(root, 'out');
  const stateDir = join(root, 'state');
  return {
    windowEnd: new Date(Date.now() + windowSeconds * 1000),
    signal,
    journal: KernelStateJournal.open(stateDir, log),
    workDir: root,
    artifacts: new ArtifactDirectory(outDir, 'test'),
    log,
    outDir,
    stateDir,
  };
}

describe('bpftraceMessages', () => {
  it('drops the harmless RLIMIT_MEMLOCK warning and keeps real errors', () => {
    expect(bpftraceMessages(`${memlockWarning}\nstdin:1:1-10: ERROR: tracepoint not found: kmem:nope\n\n`)).toEqual([
      'stdin:1:1-10: ERROR: tracepoint not found: kmem:nope',
    ]);
    expect(bpftraceMessages(memlockWarning)).toEqual([]);
  });
});

describe('runBpftrace on this kernel', () => {
  it('runs a program that stops counting and exits at the window end, keeps its output, leaves no process', async () => {
    const ctx = await context(3);
    const program = 'tracepoint:kmem:kmalloc /nsecs < $1/ { @calls = count(); } interval:ms:100 /nsecs >= $1/ { exit(); }';
    const result = await runBpftrace(ctx, {
      program,
      args: [String(monotonicNs(ctx.windowEnd))],
      maxOutputBytes: 1 << 20,
      artifactName: 'out.json',
      exitGraceMs: 30_000,
    });
    expect(scalarValue(parseBpftraceOutput(result.output), '@calls')).toBeGreaterThan(0);
    expect(result.messages.join('\n')).not.toMatch(/RLIMIT_MEMLOCK/);
    expect(await readdir(ctx.outDir)).toEqual(['test-out.json']);
    expect(ctx.journal.pending).toEqual([]);
  });

  it('interrupts a program that does not exit by itself, and still gets its maps', async () => {
    const ctx = await context(1);
    const started = Date.now();
    const result = await runBpftrace(ctx, {
      program: 'tracepoint:kmem:kmalloc { @calls = count(); }',
      maxOutputBytes: 1 << 20,
      artifactName: 'out.json',
      exitGraceMs: 500,
    });
    expect(scalarValue(parseBpftraceOutput(result.output), '@calls')).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('stops a program that prints per event once it passes the output cap', async () => {
    const ctx = await context(20);
    const run = runBpftrace(ctx, {
      program: 'tracepoint:raw_syscalls:sys_enter { printf("%s %d %d %d\\n", comm, pid, args->id, nsecs); }',
      maxOutputBytes: 256 * 1024,
      artifactName: 'out.json',
    });
    const error = await run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CaptureError);
    expect(error).toMatchObject({ reason: 'OutputLimitExceeded', message: expect.stringMatching(/printed more than 262144 bytes/) });
    expect(existsSync(join(ctx.outDir, 'test-out.json'))).toBe(true);
    expect(ctx.journal.pending).toEqual([]);
  });

  it('reports a program that fails to attach with bpftrace’s own words', async () => {
    const ctx = await context(2);
    const error = await runBpftrace(ctx, {
      program: 'tracepoint:kmem:no_such_event { @ = count(); }',
      maxOutputBytes: 1 << 20,
      artifactName: 'out.json',
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'BpftraceFailed', message: expect.stringMatching(/tracepoint not found: kmem:no_such_event/) });
    expect((error as Error).message).not.toMatch(/RLIMIT_MEMLOCK/);
  });

  it('kills bpftrace at once when the capture is aborted', async () => {
    const abort = new AbortController();
    const ctx = await context(60, abort.signal);
    setTimeout(() => abort.abort(new Error('cancelled')), 500);
    const started = Date.now();
    await expect(runBpftrace(ctx, { program: 'tracepoint:kmem:kmalloc { @ = count(); }', maxOutputBytes: 1 << 20, artifactName: 'out.json' })).rejects.toThrow(
      'cancelled',
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(ctx.journal.pending).toEqual([]);
  });
});

describe('checkBpftraceProgram', () => {
  it('accepts a program that compiles and refuses one that does not, quoting bpftrace', async () => {
    const ctx = await context(1);
    await expect(checkBpftraceProgram(ctx, { program: 'tracepoint:kmem:kmalloc { @[comm] = count(); }' })).resolves.toBeUndefined();
    await expect(checkBpftraceProgram(ctx, { program: 'tracepoint:kmem:kmalloc { @ = count( }' })).rejects.toMatchObject({
      reason: 'InvalidProgram',
      message: expect.stringMatching(/^bpftrace refused the program: stdin:1:\d+-\d+: ERROR: syntax error/),
    });
  });
});

describe('monotonicNs', () => {
  it('reads the clock bpftrace calls nsecs', async () => {
    const ctx = await context(5);
    const before = monotonicNs(new Date());
    const result = await runBpftrace(ctx, { program: 'BEGIN { @now = nsecs; exit(); }', maxOutputBytes: 1 << 16, artifactName: 'out.json' });
    const after = monotonicNs(new Date());
    const now = BigInt(scalarValue(parseBpftraceOutput(result.output), '@now'));
    expect(now > before - 1_000_000_000n && now < after + 1_000_000_000n).toBe(true);
  });

  it('maps a time ahead to the clock ahead by the same amount', () => {
    expect(monotonicNs(new Date(11_000), 10_000, 5_000_000_000n)).toBe(6_000_000_000n);
  });
});
