import { describe, expect, it } from 'vitest';
import type { KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { renderInvestigation } from '../../cli/investigation-view.js';

describe('renderInvestigation', () => {
  it('shows the figures per group and the differences that stand out', () => {
    const investigation = {
      apiVersion: 'ksleuth.io/v1alpha1',
      kind: 'KernelInvestigation',
      metadata: { name: 'cmp' },
      spec: { nodes: { selector: {}, maxNodes: 10 }, captures: [{ cpuProfile: {} }], durationSeconds: 30, ttlSecondsAfterFinished: 60 },
      status: {
        phase: 'Completed',
        findings: [],
        comparison: {
          by: 'kernelVersion',
          groups: [
            { value: '6.1.0-28-amd64', nodes: 3, reported: 3, patterns: [], figures: [{ name: 'kernel-cpu-percent', nodes: 3, median: 41, min: 38, max: 45 }] },
            { value: '6.1.0-18-amd64', nodes: 3, reported: 3, patterns: [], figures: [{ name: 'kernel-cpu-percent', nodes: 3, median: 12, min: 10, max: 14 }] },
          ],
          differences: [
            {
              figure: 'kernel-cpu-percent',
              higher: '6.1.0-28-amd64',
              lower: '6.1.0-18-amd64',
              statement: 'kernel-cpu-percent: every node of 6.1.0-28-amd64 gave more',
            },
          ],
        },
      },
    } as unknown as KernelInvestigation;
    const text = renderInvestigation(investigation, [], { now: new Date('2026-12-03T00:00:00Z') });
    expect(text).toContain('FIGURES PER GROUP');
    expect(text).toMatch(/6\.1\.0-28-amd64\s+kernel-cpu-percent\s+41\s+38–45\s+3/);
    expect(text).toContain('DIFFERENCES BEYOND THE SPREAD INSIDE THE GROUPS');
    expect(text).toContain('  kernel-cpu-percent: every node of 6.1.0-28-amd64 gave more');
  });

  it('shows the investigation’s figures, what changed against the baseline, and each node’s baseline window', () => {
    const investigation = {
      apiVersion: 'ksleuth.io/v1alpha1',
      kind: 'KernelInvestigation',
      metadata: { name: 'churn' },
      spec: { nodes: { names: ['n1'], maxNodes: 10 }, captures: [{ tcp: {} }], durationSeconds: 4, ttlSecondsAfterFinished: 60, baseline: { run: true } },
      status: {
        phase: 'Completed',
        findings: [],
        figures: [{ name: 'reproducer-p99-ms', nodes: 1, median: 4, min: 4, max: 4 }],
        baseline: {
          source: 'baseline window: the same captures on the same 1 node without the workload, just before it',
          summary: '1 figure moved, 0 new findings, 1 gone',
          changed: [{ name: 'tcp-segments-per-second', baseline: 5, workload: 900, change: 895, statement: 'tcp-segments-per-second rose from 5 to 900' }],
          appeared: [],
          gone: [{ pattern: 'slab-growth', severity: 'info', title: 'slab grows', nodes: 1 }],
        },
      },
    } as unknown as KernelInvestigation;
    const capture = (baseline: boolean) =>
      ({
        metadata: { name: baseline ? 'churn-n1-baseline' : 'churn-n1' },
        spec: { investigation: 'churn', nodeName: 'n1', ...(baseline ? { baseline: true } : {}) },
        status: { phase: 'Succeeded' },
      }) as never;
    const text = renderInvestigation(investigation, [capture(false), capture(true)], { now: new Date('2026-12-03T00:00:00Z') });
    expect(text).toMatch(/FIGURES\nFIGURE\s+MEDIAN\s+RANGE\s+NODES\nreproducer-p99-ms\s+4\s+4–4\s+1/);
    expect(text).toContain(
      'AGAINST THE BASELINE\n  baseline window: the same captures on the same 1 node without the workload, just before it\n  1 figure moved, 0 new findings, 1 gone\n  tcp-segments-per-second rose from 5 to 900\n  gone: slab-growth (info), seen on 1 node in the baseline: slab grows',
    );
    expect(text).toMatch(/NODES\n.*\nn1 \(baseline\)\s+Succeeded[^\n]*\nn1\s+Succeeded/);
  });
});
