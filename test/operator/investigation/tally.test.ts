import { describe, expect, it } from 'vitest';
import type { Finding } from '../../../api/v1alpha1/finding.js';
import { investigationSpec } from '../../../api/v1alpha1/investigation.js';
import type { KernelCapture } from '../../../api/v1alpha1/resources.js';
import { stableStringify } from '../../../lib/stable-json.js';
import { aggregate, limits, mergeFindings } from '../../../operator/investigation/aggregate.js';

const spec = investigationSpec.parse({ nodes: { names: ['a'] }, captures: [{ memory: {} }], compareBy: { kernelVersion: true } });

function child(
  node: string,
  phase?: KernelCapture['status'] extends infer S ? (S extends { phase?: infer P } ? P : never) : never,
  findings: Finding[] = [],
  kernelVersion = '6.1.0',
): KernelCapture {
  return {
    apiVersion: 'ksleuth.io/v1alpha1',
    kind: 'KernelCapture',
    metadata: { name: `inv-${node}` },
    spec: { investigation: 'inv', nodeName: node, captures: [{ memory: {} }], durationSeconds: 10, deadline: '2030-01-01T00:00:00Z' },
    status: phase ? { phase, findings, findingCount: findings.length, kernelVersion } : undefined,
  } as KernelCapture;
}

function finding(pattern: Finding['pattern'], severity: Finding['severity'], evidence = ['e1', 'e2']): Finding {
  return { pattern, severity, title: `${pattern} seen`, capture: 'memory', evidence, recommendation: 'do something' };
}

describe('aggregate', () => {
  it('counts children by phase and finishes when every target reported', () => {
    const children = [child('a', 'Succeeded'), child('b', 'Running'), child('c', 'Unsupported'), child('d')];
    const running = aggregate(spec, 4, children, new Map(), false);
    expect(running.captures).toEqual({ pending: 1, running: 1, succeeded: 1, failed: 0, unsupported: 1, timedOut: 0 });
    expect(running.finished).toBe(false);
    const done = aggregate(spec, 4, [child('a', 'Succeeded'), child('b', 'Failed'), child('c', 'Unsupported'), child('d', 'Succeeded')], new Map(), false);
    expect(done.finished).toBe(true);
    expect(done.reported).toBe(4);
  });

  it('counts unfinished and never-created children as timed out once the deadline passed', () => {
    const result = aggregate(spec, 4, [child('a', 'Succeeded'), child('b', 'Running'), child('c')], new Map(), true);
    expect(result.captures.timedOut).toBe(3);
    expect(result.timedOutNodes).toEqual(['b', 'c']);
    expect(result.finished).toBe(true);
  });

  it('merges findings across nodes with node counts, examples and the worst severity', () => {
    const children = [
      child('n1', 'Succeeded', [finding('slab-growth', 'warning'), finding('oom-kill', 'critical')]),
      child('n2', 'Succeeded', [finding('slab-growth', 'critical', ['dentry grew 300 MiB'])]),
      child('n3', 'Succeeded', [finding('slab-growth', 'warning')]),
    ];
    const { findings, total } = mergeFindings(children);
    expect(total).toBe(2);
    const slab = findings.find((f) => f.pattern === 'slab-growth')!;
    expect(slab.severity).toBe('critical');
    expect(slab.nodes).toEqual({ count: 3, examples: ['n1', 'n2', 'n3'] });
    expect(slab.evidence).toContain('n2: dentry grew 300 MiB');
    // most severe first, then most widespread
    expect(findings.map((f) => f.pattern)).toEqual(['slab-growth', 'oom-kill']);
  });

  it('groups nodes by kernel version to show where each finding appears, and the kernels that show it', () => {
    const children = [
      child('n1', 'Succeeded', [finding('tcp-retransmits', 'warning')], '6.1.0-18-amd64'),
      child('n2', 'Succeeded', [], '6.1.0-25-amd64'),
      child('n3', 'Succeeded', [finding('tcp-retransmits', 'warning')], '6.1.0-18-amd64'),
      child('n4', 'Succeeded', [finding('tcp-retransmits', 'warning')], '6.1.0-13-amd64'),
      // No result yet: no evidence either way.
      child('n5', 'Running', [], '6.1.0-28-amd64'),
    ];
    const result = aggregate(spec, 5, children, new Map(), false);
    expect(result.comparison).toEqual({
      by: 'kernelVersion',
      groups: [
        { value: '6.1.0-18-amd64', nodes: 2, reported: 2, patterns: ['tcp-retransmits'] },
        { value: '6.1.0-13-amd64', nodes: 1, reported: 1, patterns: ['tcp-retransmits'] },
        { value: '6.1.0-25-amd64', nodes: 1, reported: 1, patterns: [] },
        { value: '6.1.0-28-amd64', nodes: 1, reported: 0, patterns: [] },
      ],
      kernelRanges: [
        {
          pattern: 'tcp-retransmits',
          statement: 'Debian: seen on 6.1.0-18-amd64 and earlier, not on 6.1.0-25-amd64 and later',
          range: '>=6.1 <6.1.0-25-amd64',
        },
      ],
    });
  });

  it('tells Container-Optimized OS from a mainline build by the node’s OS image', () => {
    const children = [child('n1', 'Succeeded', [finding('oom-kill', 'warning')], '6.1.85+'), child('n2', 'Succeeded', [], '6.1.85')];
    const info = new Map([['n1', { osImage: 'Container-Optimized OS from Google' }]]);
    const result = aggregate(spec, 2, children, info, false);
    expect(result.comparison?.kernelRanges).toEqual([
      {
        pattern: 'oom-kill',
        statement: 'Container-Optimized OS: seen on every release looked at (6.1.85+); none without it to place a boundary',
        range: '=6.1.85+',
      },
    ]);
  });

  it('groups by a node label when asked', () => {
    const byLabel = investigationSpec.parse({ nodes: { names: ['a'] }, captures: [{ memory: {} }], compareBy: { nodeLabel: 'pool' } });
    const info = new Map<string, { labels: Record<string, string> }>([
      ['n1', { labels: { pool: 'db' } }],
      ['n2', { labels: {} }],
    ]);
    const result = aggregate(byLabel, 2, [child('n1', 'Succeeded'), child('n2', 'Running')], info, false);
    expect(result.comparison?.groups).toEqual([
      { value: '<unset>', nodes: 1, reported: 0, patterns: [] },
      { value: 'db', nodes: 1, reported: 1, patterns: [] },
    ]);
  });

  it('keeps the parent small with thousands of nodes and many distinct findings', () => {
    const patterns = ['slab-growth', 'memory-fragmentation', 'tcp-retransmits', 'kernel-cpu-hotspot', 'hung-task', 'oom-kill'] as const;
    const long = 'x'.repeat(500);
    const children = Array.from({ length: 5000 }, (_, i) =>
      child(
        `node-${String(i).padStart(5, '0')}`,
        'Succeeded',
        patterns.map((p) => ({ ...finding(p, 'warning', Array(20).fill(long)), capture: `c${i % 20}` })),
        `6.1.${i % 100}`,
      ),
    );
    const result = aggregate(spec, 5000, children, new Map(), false);
    expect(result.findings.length).toBe(limits.findings);
    expect(result.findingCount).toBe(patterns.length * 20);
    expect(result.comparison?.groups.length).toBe(64);
    expect(result.comparison?.otherGroups).toBe(36);
    const bytes = Buffer.byteLength(stableStringify({ findings: result.findings, comparison: result.comparison, captures: result.captures }));
    expect(bytes).toBeLessThan(256 * 1024);
  });
});
