import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveCaptureEntry } from '../../../../api/v1alpha1/capture-entry.js';
import { probeNode, type NodeFacts } from '../../../../node-agent/engine/probe.js';
import { runCaptures } from '../../../../node-agent/engine/run.js';

const log = pino({ level: 'silent' });
let facts: NodeFacts;

beforeAll(async () => {
  facts = await probeNode();
});

async function capture(program: string, durationSeconds: number) {
  const root = await mkdtemp(join(tmpdir(), 'ksleuth-bpftrace-capture-'));
  const outDir = join(root, 'out');
  const report = await runCaptures({ captures: [resolveCaptureEntry({ bpftrace: { program } })], durationSeconds, facts, outDir, stateDir: join(root, 'state'), log });
  return { outcome: report.captures[0]!, outDir };
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
