import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
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

  it('runs a baseline window without the workload first, then the workload window, and says what changed', async () => {
    // In a network namespace of its own, as on a node of its own: the tcp capture reads only it,
    // so what else runs on this machine cannot add CLOSE_WAIT sockets to either window.
    const netns = `ksleuth-local-baseline-${process.pid}`;
    await run('ip', ['netns', 'add', netns]);
    try {
      await run('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up']);
      const local = ['--local', '--capture', 'tcp', '--workload', 'socket-leak', '--baseline', '--duration', '2s'];
      const json = await run('ip', ['netns', 'exec', netns, cli, 'investigate', ...local, '--json', '--out', join(dir, 'baseline-json')], {
        maxBuffer: 16 * 1024 * 1024,
      });
      const report = JSON.parse(json.stdout) as Report & {
        figures: { name: string; nodes: number; median: number }[];
        baseline: {
          source: string;
          findings: { pattern: string }[];
          figures: { name: string }[];
          appeared: { pattern: string; nodes: number }[];
          gone: unknown[];
          summary: string;
          captures: { name: string; status: string }[];
          outDir: string;
        };
      };
      expect(report.baseline.captures.map((c) => [c.name, c.status])).toEqual([['tcp', 'Succeeded']]);
      expect(report.captures.map((c) => [c.name, c.status])).toEqual([
        ['tcp', 'Succeeded'],
        ['workload-socket-leak', 'Succeeded'],
      ]);
      expect(report.baseline.source).toBe('baseline window: the same captures on this machine without the workload, just before it');
      expect(report.baseline.findings).toEqual([]);
      expect(report.baseline.appeared).toEqual([expect.objectContaining({ pattern: 'tcp-close-wait-backlog', nodes: 1 })]);
      expect(report.baseline.gone).toEqual([]);
      expect(report.baseline.summary).toMatch(/^\d+ figures? moved, 1 new finding, 0 gone$/);
      // The reproducer's own figures exist only with the workload: the baseline has none to compare.
      expect(report.figures.find((f) => f.name === 'reproducer-failure-percent')).toEqual({
        name: 'reproducer-failure-percent',
        nodes: 1,
        median: 0,
        min: 0,
        max: 0,
      });
      expect(report.baseline.figures.map((f) => f.name)).toContain('tcp-segments-per-second');
      expect(report.baseline.figures.map((f) => f.name)).not.toContain('reproducer-failure-percent');
      expect(await readdir(report.baseline.outDir)).toContain('tcp-readings.txt');

      const table = await run('ip', ['netns', 'exec', netns, cli, 'investigate', ...local, '--out', join(dir, 'baseline-table')]);
      expect(table.stderr).toMatch(/baseline window: the captures without the workload, 2s\n[\s\S]*workload window: the captures with socket-leak, 2s\n/);
      expect(table.stdout).toMatch(/\nFIGURES\nFIGURE +MEDIAN +RANGE +NODES\n[\s\S]*reproducer-failure-percent +0 +0–0 +1\n/);
      expect(table.stdout).toMatch(
        /\nAGAINST THE BASELINE\n {2}baseline window: the same captures on this machine without the workload, just before it\n {2}\d+ figures? moved, 1 new finding, 0 gone\n[\s\S]* {2}new: tcp-close-wait-backlog \(warning\) on 1 node: \d+ TCP sockets? in CLOSE_WAIT/,
      );
    } finally {
      await run('ip', ['netns', 'del', netns]);
    }
  });

  it('says which workload and baseline options need a cluster, and what to use instead', async () => {
    const refused = async (args: string[]) => {
      const result = await run(cli, ['investigate', '--local', '--capture', 'tcp', '--duration', '1s', ...args]).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
      expect(result.code, args.join(' ')).toBe(2);
      return result.stderr;
    };
    const pod = join(dir, 'pod.yaml');
    await writeFile(pod, 'apiVersion: v1\nkind: Pod\nmetadata: {name: load}\nspec:\n  containers: [{name: load, image: busybox, command: [sleep, "5"]}]\n');
    expect(await refused(['--workload', `@${pod}`])).toContain(
      `--workload @${pod}: a Pod workload (spec.workload.pod) needs a cluster to schedule it on each node; leave out --local to run it in the cluster, or on this machine use a built-in reproducer (--workload tcp-churn|fs-sync|socket-leak)`,
    );
    expect(await refused(['--baseline'])).toContain(
      '--baseline runs the captures without the workload first, then with it: add --workload (a built-in reproducer)',
    );
    expect(await refused(['--workload', 'tcp-churn', '--baseline-from', 'before-upgrade'])).toContain(
      '--baseline-from before-upgrade: compares with an earlier KernelInvestigation in a cluster; on this machine use --baseline',
    );
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
