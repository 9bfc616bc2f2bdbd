import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../lib/paths.js';
import { sha256File } from '../../node-agent/engine/artifacts.js';

const run = promisify(execFile);
const cli = join(projectRoot, 'bin', 'ksleuth');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ksleuth-local-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Report {
  node: { kernelVersion: string; capabilities: { root: boolean } };
  captures: { name: string; kind: string; status: string; reason?: string; summary: Record<string, unknown> }[];
  findings: { pattern: string; severity: string; title: string; evidence: string[]; recommendation: string }[];
  artifacts: { name: string; sha256: string; path: string }[];
}

describe('ksleuth investigate --local', () => {
  it('runs captures on this machine and prints a JSON report with node facts, captures, findings and artifacts', async () => {
    const out = join(dir, 'json');
    const { stdout } = await run(
      cli,
      [
        'investigate',
        '--local',
        '--capture',
        'memory,slab,kernel-log,ftrace',
        '--set',
        'ftrace.mode=function',
        '--set',
        'ftrace.functions=vfs_write',
        '--duration',
        '3s',
        '--json',
        '--out',
        out,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const report = JSON.parse(stdout) as Report;
    expect(report.node.kernelVersion).toMatch(/^\d+\.\d+/);
    expect(report.captures.map((c) => [c.name, c.status])).toEqual([
      ['memory', 'Succeeded'],
      ['slab', 'Succeeded'],
      ['kernel-log', 'Succeeded'],
      ['ftrace', 'Unsupported'],
    ]);
    // This kernel refuses the function tracer when asked: the reason says so instead of a stack trace.
    expect(report.captures[3]!.reason).toBe('TracerRefused');
    for (const c of report.captures.slice(0, 3)) expect(Object.keys(c.summary).length).toBeGreaterThan(0);
    expect(Array.isArray(report.findings)).toBe(true);
    expect(report.artifacts.length).toBeGreaterThan(0);
    for (const a of report.artifacts) expect(await sha256File(a.path)).toBe(a.sha256);
    expect((await readdir(out)).filter((f) => f.startsWith('.work'))).toEqual([]);
  });

  it('prints tables without escape codes when piped', async () => {
    const { stdout, stderr } = await run(cli, ['investigate', '--local', '--capture', 'memory', '--duration', '2s', '--out', join(dir, 'table')]);
    expect(stdout).toMatch(/CAPTURE\s+STATUS\s+FINDINGS\s+SUMMARY/);
    expect(stdout).toMatch(/memory\s+Succeeded/);
    expect(stdout + stderr).not.toContain('\u001b[');
  });

  it('refuses bad input with the parameter named, and no stack trace', async () => {
    const result = await run(cli, ['investigate', '--local', '--capture', 'cpu-profile', '--set', 'cpu-profile.frequencyHz=5000']).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((result as { code: number }).code).toBe(2);
    expect((result as { stderr: string }).stderr).toMatch(/cpu-profile\.frequencyHz: Too big: expected number to be <=999/);
    expect((result as { stderr: string }).stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});
