import { readdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { runForReal } from '../real-run.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function capture(program: string, durationSeconds: number) {
  const run = await runForReal([{ bpftrace: { program } }], durationSeconds);
  cleanups.push(run.cleanup);
  return { outcome: run.report.captures[0]!, outDir: run.outDir };
}

describe('the bpftrace capture on this kernel', () => {
  it('runs a program for the window and summarises its maps, keeping the raw output', async () => {
    const { outcome, outDir } = await capture('tracepoint:raw_syscalls:sys_enter { @syscalls[comm] = count(); @ids = hist(args->id); }', 4);
    expect(outcome.state).toBe('Succeeded');
    expect(outcome.summary.maps).toBe(2);
    expect(outcome.summary['@syscalls.keys']).toBeGreaterThan(0);
    expect(outcome.summary['@ids.count']).toBeGreaterThan(0);
    expect(await readdir(outDir)).toContain('bpftrace-output.json');
    expect(outcome.artifacts[0]).toMatchObject({ name: 'bpftrace-output.json', contentType: 'application/x-ndjson' });
  });

  it('refuses a program that does not parse, with bpftrace’s error', async () => {
    const { outcome } = await capture('tracepoint:kmem:kmalloc { @x = count( }', 2);
    expect(outcome).toMatchObject({ state: 'Failed', reason: 'InvalidProgram' });
    expect(outcome.message).toMatch(/ERROR: syntax error, unexpected \}/);
    expect(outcome.message).not.toMatch(/RLIMIT_MEMLOCK/);
  });

  it('refuses unsafe builtins: programs never run with --unsafe', async () => {
    const { outcome } = await capture('tracepoint:kmem:kmalloc { system("id"); }', 2);
    expect(outcome).toMatchObject({ state: 'Failed', reason: 'InvalidProgram' });
    expect(outcome.message).toMatch(/system\(\) is an unsafe function being used in safe mode/);
  });

  it('fails with bpftrace’s reason when a probe cannot attach (no kprobes on this kernel)', async () => {
    const { outcome } = await capture('kprobe:vfs_read { @ = count(); }', 2);
    expect(outcome).toMatchObject({ state: 'Failed', reason: 'BpftraceFailed' });
    expect(outcome.message).toMatch(/^bpftrace exited with code \d+: .*Error attaching probe: 'kprobe:vfs_read'/);
  });

  it('stops a program that prints every event', async () => {
    const { outcome } = await capture('tracepoint:raw_syscalls:sys_enter { printf("%s %d %d %d %d\\n", comm, pid, tid, args->id, nsecs); }', 30);
    expect(outcome).toMatchObject({ state: 'Failed', reason: 'OutputLimitExceeded' });
  });
});
