import { describe, expect, it } from 'vitest';
import type { AggregatedFinding } from '../../../api/v1alpha1/finding.js';
import type { GroupFigure } from '../../../api/v1alpha1/figures.js';
import type { KernelInvestigation } from '../../../api/v1alpha1/resources.js';
import { baselineFindings, compareWithBaseline, earlierBaseline, figureChanges } from '../../../operator/investigation/baseline.js';

function figure(name: string, values: number[]): GroupFigure {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { name, nodes: values.length, median, min: sorted[0]!, max: sorted.at(-1)! };
}

function found(pattern: AggregatedFinding['pattern'], severity: AggregatedFinding['severity'], nodes: number, capture = 'memory'): AggregatedFinding {
  return {
    pattern,
    severity,
    title: `${pattern} on ${capture}`,
    capture,
    evidence: [],
    recommendation: 'look',
    nodes: { count: nodes, examples: [] },
  };
}

function investigation(name: string, spec: Partial<KernelInvestigation['spec']>, status?: KernelInvestigation['status']): KernelInvestigation {
  return {
    apiVersion: 'ksleuth.io/v1alpha1',
    kind: 'KernelInvestigation',
    metadata: { name, uid: `uid-${name}` },
    spec: { nodes: { names: ['n1'], maxNodes: 10 }, captures: [{ tcp: {} }], durationSeconds: 10, ttlSecondsAfterFinished: 60, ...spec },
    ...(status ? { status } : {}),
  } as KernelInvestigation;
}

describe('figures that moved against the baseline', () => {
  it('names a figure whose ranges do not overlap and whose medians differ by its minimum and the ratio, with the signed change', () => {
    const changes = figureChanges(
      [figure('tcp-segments-per-second', [4, 6]), figure('kernel-cpu-percent', [40, 50])],
      [figure('tcp-segments-per-second', [2000, 2500]), figure('kernel-cpu-percent', [10, 12])],
    );
    expect(changes).toEqual([
      {
        name: 'tcp-segments-per-second',
        baseline: 5,
        workload: 2250,
        change: 2245,
        statement: 'tcp-segments-per-second rose from median 5 /s (4–6 /s, 2 nodes) in the baseline to median 2250 /s (2000–2500 /s, 2 nodes)',
      },
      expect.objectContaining({ name: 'kernel-cpu-percent', baseline: 45, workload: 11, change: -34 }),
    ]);
    expect(changes[1]!.statement).toMatch(/^kernel-cpu-percent fell from/);
  });

  it('compares one node with itself: its two values, without a spread', () => {
    expect(figureChanges([figure('reproducer-p99-ms', [4])], [figure('reproducer-p99-ms', [40])])).toHaveLength(1);
  });

  it('does not name overlapping ranges, a change below the figure’s minimum, below the ratio, or a figure only one side gave', () => {
    // One slow node among many raises the range, not the minimum: the ranges overlap.
    expect(figureChanges([figure('block-latency-p99-ms', [2, 3, 40])], [figure('block-latency-p99-ms', [30, 35, 50])])).toEqual([]);
    // 3 points of kernel CPU, below its minDifference of 5.
    expect(figureChanges([figure('kernel-cpu-percent', [10])], [figure('kernel-cpu-percent', [13])])).toEqual([]);
    // 72 against 80: below the 1.2 ratio.
    expect(figureChanges([figure('kernel-cpu-percent', [72])], [figure('kernel-cpu-percent', [80])])).toEqual([]);
    // The reproducer's failure rate exists only with the workload: nothing to compare it with.
    expect(figureChanges([], [figure('reproducer-failure-percent', [12])])).toEqual([]);
  });
});

describe('findings against the baseline', () => {
  it('merges findings by pattern (worst severity, most nodes) and lists what appeared and what went, with a summary', () => {
    expect(baselineFindings([found('slab-growth', 'info', 1), found('slab-growth', 'warning', 3, 'slab')])).toEqual([
      { pattern: 'slab-growth', severity: 'warning', title: 'slab-growth on slab', nodes: 3 },
    ]);
    const baseline = {
      source: 'baseline window',
      findings: baselineFindings([found('slab-growth', 'warning', 2), found('memory-fragmentation', 'info', 1)]),
      figures: [figure('tcp-segments-per-second', [5])],
    };
    const compared = compareWithBaseline(
      baseline,
      [found('reproducer-failures', 'warning', 2, 'workload-tcp-churn'), found('slab-growth', 'critical', 2)],
      [figure('tcp-segments-per-second', [900])],
    );
    expect(compared.appeared).toEqual([{ pattern: 'reproducer-failures', severity: 'warning', title: 'reproducer-failures on workload-tcp-churn', nodes: 2 }]);
    expect(compared.gone?.map((f) => f.pattern)).toEqual(['memory-fragmentation']);
    expect(compared.changed?.map((c) => c.name)).toEqual(['tcp-segments-per-second']);
    expect(compared.summary).toBe('1 figure moved, 1 new finding, 1 gone');
    expect(compared.source).toBe('baseline window');
  });
});

describe('an earlier investigation as the baseline', () => {
  const self = (earlier: string) => investigation('after', { baseline: { investigation: earlier } });

  it('takes a Completed one’s findings and figures', () => {
    const earlier = investigation(
      'before',
      {},
      {
        phase: 'Completed',
        startTime: '2026-12-04T10:00:00Z',
        completionTime: '2026-12-04T10:01:00Z',
        captures: { pending: 0, running: 0, succeeded: 2, failed: 1, unsupported: 0, timedOut: 1 },
        findings: [found('tcp-retransmits', 'warning', 2, 'tcp')],
        figures: [figure('tcp-retransmit-percent', [1, 2])],
      },
    );
    expect(earlierBaseline(self('before'), earlier)).toEqual({
      state: 'ready',
      baseline: {
        source: 'investigation before, completed 2026-12-04T10:01:00Z on 3 nodes',
        investigation: 'before',
        startTime: '2026-12-04T10:00:00Z',
        completionTime: '2026-12-04T10:01:00Z',
        nodes: 3,
        findings: [{ pattern: 'tcp-retransmits', severity: 'warning', title: 'tcp-retransmits on tcp', nodes: 2 }],
        figures: [figure('tcp-retransmit-percent', [1, 2])],
      },
    });
  });

  it('waits for one still running, and refuses one that is missing, failed or itself, naming the field and the fix', () => {
    expect(earlierBaseline(self('before'), investigation('before', {}, { phase: 'Running' }))).toEqual({
      state: 'waiting',
      message: 'waiting for before (Running) to complete: it is the baseline to compare with',
    });
    expect(earlierBaseline(self('nope'), undefined)).toMatchObject({
      state: 'invalid',
      reason: 'BaselineNotFound',
      message: expect.stringMatching(/^spec\.baseline\.investigation: there is no KernelInvestigation named nope .*baseline\.run: true$/),
    });
    const failed = investigation(
      'before',
      {},
      { phase: 'Failed', conditions: [{ type: 'Failed', status: 'True', reason: 'NoEligibleNodes', message: 'no Ready node' } as never] },
    );
    expect(earlierBaseline(self('before'), failed)).toMatchObject({
      state: 'invalid',
      reason: 'BaselineFailed',
      message: expect.stringContaining('before failed (no Ready node)'),
    });
    expect(earlierBaseline(self('after'), investigation('after', {}))).toMatchObject({ state: 'invalid', reason: 'InvalidBaseline' });
  });

  it('says so when the earlier investigation gave no figures', () => {
    const earlier = investigation('before', {}, { phase: 'Completed', completionTime: '2026-12-04T10:01:00Z' });
    const result = earlierBaseline(self('before'), earlier);
    expect(result.state === 'ready' && result.baseline.source).toBe(
      'investigation before, completed 2026-12-04T10:01:00Z on 0 nodes; it gave no figures to compare',
    );
  });
});
