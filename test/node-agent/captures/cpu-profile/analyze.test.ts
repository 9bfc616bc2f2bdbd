import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuProfileParams } from '../../../../api/v1alpha1/captures.js';
import { finding } from '../../../../api/v1alpha1/finding.js';
import { cpuProfileCapture } from '../../../../node-agent/captures/cpu-profile/index.js';
import type { CpuProfileRaw } from '../../../../node-agent/captures/cpu-profile/parse.js';
import { processesToAttribute } from '../../../../node-agent/captures/cpu-profile/processes.js';
import { processCpu, profileStacks } from '../../../../node-agent/captures/cpu-profile/profile.js';
import type { Workload } from '../../../../node-agent/engine/workload.js';
import type { NodeFacts } from '../../../../node-agent/engine/probe.js';
import { collapsePerfScript } from '../../../../node-agent/flamegraph/collapse-stream.js';
import { decodeBytes, parseFolded } from '../../../../node-agent/flamegraph/folded.js';

const fixtures = join(import.meta.dirname, '../../../fixtures/cpu-profile');
const params = cpuProfileParams.parse({});
const facts = {} as NodeFacts; // analyze() does not read node facts

const recording = (name: string): string => readFileSync(join(fixtures, `${name}.perf-script.txt`), 'latin1');

/** A perf script text's samples: blocks separated by blank lines. */
function samples(text: string): string[] {
  return text.split('\n\n').filter((b) => b.trim() !== '');
}

const join2 = (blocks: string[]): string => `${blocks.join('\n\n')}\n\n`;

/** Repeats the blocks `matching` until they are about `share` of all samples (all idle-free here). */
function amplify(text: string, matching: (block: string) => boolean, share: number): string {
  const all = samples(text);
  const chosen = all.filter(matching);
  expect(chosen.length, 'the recording has no sample to derive from: re-record').toBeGreaterThan(0);
  const copies = Math.max(1, Math.round((share * (all.length - chosen.length)) / (chosen.length * (1 - share))));
  return join2([...all, ...Array.from({ length: copies - 1 }, () => chosen).flat()]);
}

/** The capture's parse and analyze, after the collapser with the marks the capture asks for. */
function analyze(text: string) {
  const raw: CpuProfileRaw = {
    folded: decodeBytes(collapsePerfScript(Buffer.from(text, 'latin1'), { all: true }).foldedText()),
    frequencyHz: 99,
    truncated: false,
  };
  const parsed = cpuProfileCapture.parse(raw, params);
  return { parsed, ...cpuProfileCapture.analyze(parsed, params, facts) };
}

const headerCount = (text: string): number => text.split('\n').filter((l) => /^\S.*\d+\/\d+ +\[\d+\] +[\d.]+: +cpu-clock:\s*$/.test(l)).length;

describe('cpu-profile analysis of recorded profiles', () => {
  it('kernel-heavy: read_zero (dd) is the hot kernel function, and one function over 20% is a finding', () => {
    const text = recording('kernel-heavy');
    const { summary, findings } = analyze(text);
    expect(summary.totalSamples).toBe(headerCount(text));
    expect(Number(summary.idleSamples) + Number(summary.busySamples)).toBe(summary.totalSamples);
    expect(summary).toMatchObject({ frequencyHz: 99, topKernelFunction: 'read_zero', topKernelSubsystem: 'filesystem (vfs, ext4, jbd2, page cache)' });
    expect(Number(summary.topKernelFunctionPercent)).toBeGreaterThanOrEqual(20);
    expect(String(summary.topKernelFunctions).split(', ').length).toBeLessThanOrEqual(params.topN);
    expect(findings).toHaveLength(1);
    const [hotspot] = findings;
    expect(() => finding.parse(hotspot)).not.toThrow();
    expect(hotspot).toMatchObject({
      pattern: 'kernel-cpu-hotspot',
      severity: 'warning',
      title: 'One kernel function takes an outsized share of CPU: read_zero',
    });
    expect(hotspot!.evidence[0]).toMatch(/^read_zero \(filesystem .*\) is the leaf of \d+\.\d% of busy CPU samples \(\d+ of \d+\)$/);
    expect(hotspot!.evidence.find((e) => e.startsWith('processes in kernel:'))).toMatch(/^processes in kernel: dd /);
    expect(hotspot!.evidence.find((e) => e.startsWith('hottest kernel stack'))).toMatch(/dd;.*vfs_read;read_zero$/);
  });

  it('kernel-heavy, with the processes named: dd in its pod, the rest on the host, each once with its share', () => {
    const text = recording('kernel-heavy');
    const collapser = collapsePerfScript(Buffer.from(text, 'latin1'), { all: true, processLeaves: true });
    const processes = processesToAttribute(processCpu(collapser.processLeaves()));
    const dd: Workload = { host: false, podUid: 'u1', namespace: 'shop', pod: 'burn-1', container: 'burn', owner: 'Deployment/burn' };
    const raw: CpuProfileRaw = {
      folded: decodeBytes(collapser.foldedText()),
      frequencyHz: 99,
      truncated: false,
      processes: processes.map((p) => ({ ...p, workload: p.comm === 'dd' ? dd : { host: true } })),
    };
    const parsed = cpuProfileCapture.parse(raw, params);
    const { summary, findings } = cpuProfileCapture.analyze(parsed, params, facts);
    const ddProcesses = processes.filter((p) => p.comm === 'dd').length;
    expect(ddProcesses).toBeGreaterThan(0);
    const ddLabel = `dd (pod shop/burn-1 container burn (Deployment/burn)${ddProcesses > 1 ? `, ${ddProcesses} processes` : ''})`;
    // The finding lists the pods among the processes it names, for counting across nodes.
    expect(findings[0]!.pods).toEqual([{ namespace: 'shop', name: 'burn-1', owner: 'Deployment/burn' }]);
    const line = findings[0]!.evidence.find((e) => e.startsWith('processes in kernel:'));
    expect(line).toMatch(new RegExp(`^processes in kernel: ${ddLabel.replace(/[()/]/g, '\\$&')} \\d+\\.\\d%, \\S+ \\(host(, \\d+ processes)?\\) `));
    expect(String(summary.topKernelProcesses)).toMatch(new RegExp(`^${ddLabel.replace(/[()/]/g, '\\$&')} `));
    expect(String(summary.topProcesses).match(/ \d+\.\d%/g)).toHaveLength(5);
    // The shares are of busy samples: dd's kernel share matches the per-process count of the profile.
    const ddKernel = processes.filter((p) => p.comm === 'dd').reduce((sum, p) => sum + p.kernelSamples, 0);
    expect(String(summary.topKernelProcesses)).toContain(`${ddLabel} ${((100 * ddKernel) / Number(summary.busySamples)).toFixed(1)}%`);
    // Idle CPUs are nobody's work.
    expect(processes.some((p) => p.comm === 'swapper' && p.kernelSamples === p.busySamples && p.busySamples < Number(summary.idleSamples))).toBe(
      processes.some((p) => p.comm === 'swapper'),
    );
  });

  it('user-heavy: little kernel time and no finding', () => {
    const { summary, findings } = analyze(recording('user-heavy'));
    expect(Number(summary.kernelSharePercent)).toBeLessThan(50);
    expect(Number(summary.kernelSharePercent) + Number(summary.userSharePercent)).toBeCloseTo(100, 0);
    expect(findings).toEqual([]);
  });

  it('pipe-and-file-churn: RCU callbacks and lock slow paths seen at a harmless level', () => {
    const { summary, findings } = analyze(recording('pipe-and-file-churn'));
    expect(String(summary.kernelHotPaths)).toMatch(/rcu-callbacks \d+(\.\d)?%/);
    expect(String(summary.kernelHotPaths)).toMatch(/lock-contention \d+(\.\d)?%/);
    expect(findings).toEqual([]);
  });

  it('tells idle CPUs apart from busy ones', () => {
    const mixed = readFileSync(join(import.meta.dirname, '../../../fixtures/flamegraph/mixed-pid-tid.perf-script.txt'), 'latin1');
    const idleBlocks = samples(mixed).filter((b) => b.split('\n')[1]?.includes(' pv_native_safe_halt (')).length;
    const { summary } = analyze(mixed);
    expect(idleBlocks).toBeGreaterThan(0);
    expect(summary.idleSamples).toBe(idleBlocks);
    expect(summary.busySamples).toBe(headerCount(mixed) - idleBlocks);
  });
});

describe('cpu-profile analysis of inputs derived from the recordings', () => {
  it('RCU callbacks at ~30% of busy CPU are critical, with the stack that shows them', () => {
    const text = amplify(recording('pipe-and-file-churn'), (b) => b.includes(' rcu_do_batch ('), 0.3);
    const { findings } = analyze(text);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'critical', title: 'RCU callbacks take an outsized share of CPU' });
    expect(findings[0]!.evidence[0]).toMatch(/^RCU callbacks \(under rcu_do_batch\/rcu_core\): (2\d|3\d)\.\d% of busy CPU samples .*hottest: .*rcu_do_batch/);
    expect(findings[0]!.recommendation).toMatch(/rcu_nocbs/);
  });

  it('lock slow paths at ~15% of busy CPU are a warning', () => {
    const inMutexSlowPath = (b: string): boolean => /^\s+\S+ __mutex_lock[.\w]* \(\[kernel\.kallsyms\]\)$/m.test(b);
    const { findings } = analyze(amplify(recording('pipe-and-file-churn'), inMutexSlowPath, 0.15));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'warning', title: 'Lock contention takes an outsized share of CPU' });
    expect(findings[0]!.evidence[0]).toMatch(/^spinning or sleeping on contended locks .*: 1\d\.\d% of busy CPU samples/);
  });

  it('a node that runs only kernel-bound work: kernel share and the hot function both reported', () => {
    const ddOnly = join2(samples(recording('kernel-heavy')).filter((b) => b.startsWith('dd ')));
    const { summary, findings } = analyze(ddOnly);
    expect(Number(summary.kernelSharePercent)).toBeGreaterThan(90);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.evidence.some((e) => /^kernel: 9\d\.\d% of busy CPU samples/.test(e))).toBe(true);
    expect(findings[0]!.evidence.some((e) => e.startsWith('read_zero '))).toBe(true);
  });

  it('does not judge from too few samples', () => {
    const few = join2(
      samples(recording('kernel-heavy'))
        .filter((b) => b.startsWith('dd '))
        .slice(0, 40),
    );
    const { summary, findings } = analyze(few);
    expect(summary.busySamples).toBe(40);
    expect(findings).toEqual([]);
  });
});

describe('cpu-profile profile figures', () => {
  it('counts self samples of kernel leaves and attributes them to processes', () => {
    const stacks = parseFolded(
      'app;main;read_[k];vfs_read_[k];read_zero_[k] 6\napp;main 3\nswapper;do_idle_[k];pv_native_safe_halt_[k] 10\nkworker;rcu_do_batch_[k];kmem_cache_free_[k] 1\n',
    );
    const profile = profileStacks(stacks);
    expect(profile).toMatchObject({ totalSamples: 20, idleSamples: 10, busySamples: 10, kernelSamples: 7, userSamples: 3 });
    expect(profile.kernelFunctions).toEqual([
      { name: 'read_zero', samples: 6, subsystem: 'filesystem' },
      { name: 'kmem_cache_free', samples: 1, subsystem: 'memory' },
    ]);
    expect(profile.kernelProcesses.map((p) => p.name)).toEqual(['app', 'kworker']);
    const leaves = [
      { comm: 'app', pid: 7, leaf: 'read_zero_[k]', samples: 6 },
      { comm: 'app', pid: 7, leaf: 'main', samples: 3 },
      { comm: 'swapper', pid: 0, leaf: 'pv_native_safe_halt_[k]', samples: 10 },
      { comm: 'kworker', pid: 9, leaf: 'kmem_cache_free_[k]', samples: 1 },
    ];
    expect(processCpu(leaves)).toEqual([
      { comm: 'app', pid: 7, busySamples: 9, kernelSamples: 6 },
      { comm: 'kworker', pid: 9, busySamples: 1, kernelSamples: 1 },
    ]);
    expect(profile.hotPaths).toEqual([{ id: 'rcu-callbacks', samples: 1, hottestStack: 'kworker;rcu_do_batch;kmem_cache_free', hottestStackSamples: 1 }]);
  });
});

describe('a perf script that stopped early', () => {
  it('keeps the samples it printed and says the rest is missing', () => {
    const raw: CpuProfileRaw = {
      folded: 'dd;read_zero_[k];clear_user_[k] 40\ndd;main 10\n',
      frequencyHz: 99,
      truncated: false,
      stoppedEarly: 'perf script stopped at a perf record of type 17 it could not process; later samples are missing',
    };
    const parsed = cpuProfileCapture.parse(raw, params);
    const { summary } = cpuProfileCapture.analyze(parsed, params, facts);
    expect(summary.stoppedEarly).toMatch(/type 17/);
    expect(summary.totalSamples).toBe(50);
  });
});
