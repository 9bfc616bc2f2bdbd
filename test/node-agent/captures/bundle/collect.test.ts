import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { collectItem, type CollectContext } from '../../../../node-agent/captures/bundle/collect.js';
import { readCapped } from '../../../../node-agent/engine/read-capped.js';
import { projectRoot } from '../../../../lib/paths.js';
import { KernelStateJournal } from '../../../../node-agent/engine/journal.js';
import { nodeFacts } from '../real-run.js';

const stateDir = await mkdtemp(join(tmpdir(), 'ksleuth-collect-'));
const journal = KernelStateJournal.open(stateDir, pino({ level: 'silent' }));
afterAll(async () => {
  await journal.close();
  await rm(stateDir, { recursive: true, force: true });
});

async function context(limits: CollectContext['limits'], tools?: string[]): Promise<CollectContext> {
  const facts = await nodeFacts();
  return { facts: tools ? { ...facts, tools: new Set(tools) } : facts, signal: new AbortController().signal, journal, limits };
}

describe('collecting bundle items', () => {
  it('cuts a file at the size cap and says so', async () => {
    const path = join(projectRoot, 'test', 'fixtures', 'bundle', 'kernel-config.txt');
    const whole = await readCapped(path, 1024 * 1024);
    expect(whole.truncated).toBe(false);
    expect(whole.data.length).toBe(100944);
    const cut = await readCapped(path, 100);
    expect(cut).toMatchObject({ truncated: true });
    expect(cut.data.toString()).toBe(whole.data.subarray(0, 100).toString());
  });

  it('kills a command at its timeout and keeps the error', async () => {
    const ctx = await context({ timeoutMs: 300, maxBytes: 1024 }, ['sleep']);
    const collected = await collectItem({ file: 'slow.txt', source: { kind: 'command', command: 'sleep', args: ['30'] } }, ctx);
    expect(collected.error).toBe('sleep was killed at its deadline');
    expect(collected.source).toBe('sleep 30');
  });

  it('cuts a command’s output at the size cap', async () => {
    const ctx = await context({ timeoutMs: 15_000, maxBytes: 64 });
    const collected = await collectItem({ file: 'sysctl.txt', source: { kind: 'command', command: 'sysctl', args: ['-a'] } }, ctx);
    expect(collected).toMatchObject({ truncated: true, exitCode: 0 });
    expect(collected.data.length).toBe(64);
    expect(collected.error).toBeUndefined();
  });

  it('records a failing command with its exit code and stderr', async () => {
    const ctx = await context({ timeoutMs: 15_000, maxBytes: 1024 });
    const collected = await collectItem({ file: 'x.txt', source: { kind: 'command', command: 'ip', args: ['route', 'show', 'table', 'no-such-table'] } }, ctx);
    expect(collected.exitCode).not.toBe(0);
    expect(collected.error).toMatch(/^ip exited with code \d+: /);
  });

  it('records a file that cannot be read', async () => {
    const ctx = await context({ timeoutMs: 1000, maxBytes: 1024 });
    const collected = await collectItem({ file: 'x.txt', source: { kind: 'file', path: '/proc/no-such-file' } }, ctx);
    expect(collected).toMatchObject({ source: '/proc/no-such-file', truncated: false });
    expect(collected.error).toMatch(/^ENOENT: no such file or directory/);
  });
});
