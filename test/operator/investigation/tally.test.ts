import { describe, expect, it } from 'vitest';
import type { CapturePhase, KernelCaptureStatus } from '../../../api/v1alpha1/capture.js';
import { findingPatterns, type Finding } from '../../../api/v1alpha1/finding.js';
import { stableStringify } from '../../../lib/stable-json.js';
import { cachedCapture, type CachedCapture } from '../../../operator/investigation/cached.js';
import { limits } from '../../../operator/investigation/limits.js';
import { InvestigationTally, summarize, type GroupBy, type NodeInfo } from '../../../operator/investigation/tally.js';

const byKernel: GroupBy = { kind: 'kernelVersion' };
const noGroups: GroupBy = { kind: 'none' };

/** A KernelCapture as the operator caches it (through the informer's transform). */
type Result = NonNullable<KernelCaptureStatus['results']>[number];

/** A succeeded result of `kind` with this summary. */
function succeeded(kind: string, summary: Record<string, number>): Result {
  return { name: kind, kind, state: 'Succeeded', summary };
}

function child(node: string, phase?: CapturePhase, findings: Finding[] = [], kernelVersion = '6.1.0', results?: Result[]): CachedCapture {
  return cachedCapture({
    apiVersion: 'ksleuth.io/v1alpha1',
    kind: 'KernelCapture',
    metadata: {
      name: `inv-${node}`,
      ownerReferences: [{ apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelInvestigation', name: 'inv', uid: 'u1', controller: true }],
    },
    spec: { investigation: 'inv', nodeName: node, captures: [{ memory: {} }], durationSeconds: 10, deadline: '2030-01-01T00:00:00Z' },
    ...(phase
      ? {
          status: {
            phase,
            findings,
            findingCount: findings.length,
            kernelVersion,
            results: results ?? [{ name: 'memory', kind: 'memory', state: 'Succeeded' }],
          },
        }
      : {}),
  });
}

function finding(pattern: Finding['pattern'], severity: Finding['severity'], evidence = ['e1', 'e2'], extra: Partial<Finding> = {}): Finding {
  return { pattern, severity, title: `${pattern} seen`, capture: 'memory', evidence, recommendation: 'do something', ...extra };
}

/** A tally that counted these children from scratch. */
function tallyOf(children: CachedCapture[], groupBy: GroupBy = byKernel, info: Map<string, NodeInfo> = new Map()): InvestigationTally {
  const tally = new InvestigationTally('u1', groupBy);
  for (const c of children)
    tally.set(
      c.metadata.name!,
      summarize(c, groupBy, (n) => info.get(n)),
    );
  return tally;
}

describe('InvestigationTally', () => {
  it('counts children by phase and finishes when every target reported', () => {
    const running = tallyOf([child('a', 'Succeeded'), child('b', 'Running'), child('c', 'Unsupported'), child('d')]).render(4, false);
    expect(running.captures).toEqual({ pending: 1, running: 1, succeeded: 1, failed: 0, unsupported: 1, timedOut: 0 });
    expect(running.finished).toBe(false);
    const done = tallyOf([child('a', 'Succeeded'), child('b', 'Failed'), child('c', 'Unsupported'), child('d', 'Succeeded')]).render(4, false);
    expect(done.finished).toBe(true);
    expect(done.reported).toBe(4);
  });

  it('counts targets not created yet as pending', () => {
    expect(tallyOf([child('a', 'Running')]).render(3, false).captures).toMatchObject({ pending: 2, running: 1 });
  });

  it('counts unfinished and never-created children as timed out once the deadline passed, naming a few in name order', () => {
    const result = tallyOf([child('c'), child('a', 'Succeeded'), child('b', 'Running'), child('d', 'TimedOut'), child('e')]).render(6, true);
    expect(result.captures).toEqual({ pending: 0, running: 0, succeeded: 1, failed: 0, unsupported: 0, timedOut: 5 });
    expect(result.timedOut).toBe(5);
    expect(result.timedOutNodes).toEqual(['b', 'c', 'd']);
    expect(result.finished).toBe(true);
  });

  it('merges findings across nodes with node counts, examples, evidence and the worst severity', () => {
    const tally = tallyOf([
      child('n3', 'Succeeded', [finding('slab-growth', 'warning', ['n3 line'])]),
      child('n1', 'Succeeded', [finding('slab-growth', 'warning'), finding('oom-kill', 'critical')]),
      child('n2', 'Succeeded', [finding('slab-growth', 'critical', ['dentry grew 300 MiB'], { title: 'dentry cache grows' })]),
    ]);
    const { findings, findingCount } = tally.render(3, false);
    expect(findingCount).toBe(2);
    const slab = findings.find((f) => f.pattern === 'slab-growth')!;
    expect(slab.severity).toBe('critical');
    expect(slab.title).toBe('dentry cache grows');
    expect(slab.nodes).toEqual({ count: 3, examples: ['n1', 'n2', 'n3'] });
    // the first example gives up to three lines, the others one each
    expect(slab.evidence).toEqual(['n1: e1', 'n1: e2', 'n2: dentry grew 300 MiB', 'n3: n3 line']);
    // most severe first, then most widespread
    expect(findings.map((f) => f.pattern)).toEqual(['slab-growth', 'oom-kill']);
  });

  it('counts the pods the nodes name and their owners, most pods first', () => {
    const web = (name: string) => ({ namespace: 'shop', name, owner: 'Deployment/web' });
    const tally = tallyOf([
      child('n1', 'Succeeded', [finding('tcp-close-wait-backlog', 'warning', ['e'], { pods: [web('web-a'), { namespace: 'shop', name: 'bare' }] })]),
      child('n2', 'Succeeded', [
        finding('tcp-close-wait-backlog', 'warning', ['e'], { pods: [web('web-b'), { namespace: 'db', name: 'db-0', owner: 'StatefulSet/db' }] }),
      ]),
      child('n3', 'Succeeded', [finding('tcp-close-wait-backlog', 'critical', ['e'])]),
      child('n4', 'Succeeded', [finding('oom-kill', 'critical', ['e'])]),
    ]);
    const { findings } = tally.render(4, false);
    const backlog = findings.find((f) => f.pattern === 'tcp-close-wait-backlog')!;
    expect(backlog.pods).toEqual({
      count: 4,
      owners: [
        { namespace: 'shop', owner: 'Deployment/web', pods: 2 },
        { namespace: 'db', owner: 'StatefulSet/db', pods: 1 },
      ],
    });
    expect(findings.find((f) => f.pattern === 'oom-kill')!.pods).toBeUndefined();
    // A node that reports again is counted once: its earlier pods are taken away.
    const again = child('n2', 'Succeeded', [finding('tcp-close-wait-backlog', 'warning', ['e'])]);
    tally.set(
      again.metadata.name!,
      summarize(again, byKernel, () => undefined),
    );
    expect(tally.render(4, false).findings.find((f) => f.pattern === 'tcp-close-wait-backlog')!.pods).toEqual({
      count: 2,
      owners: [{ namespace: 'shop', owner: 'Deployment/web', pods: 1 }],
    });
  });

  it('counts a node once per finding, with its most severe report', () => {
    const tally = tallyOf([child('n1', 'Succeeded', [finding('hung-task', 'warning', ['first']), finding('hung-task', 'critical', ['second'])])]);
    const [hung] = tally.render(1, false).findings;
    expect(hung!.nodes.count).toBe(1);
    expect(hung!.severity).toBe('critical');
    expect(hung!.evidence).toEqual(['n1: second']);
  });

  it('takes a suggested mitigation from an example node when the representative has none', () => {
    const mitigation = { sysctls: [{ name: 'vm.min_free_kbytes', value: '262144' }] };
    const tally = tallyOf([
      child('a', 'Succeeded', [finding('memory-fragmentation', 'warning', ['x'], { suggestedMitigation: mitigation })]),
      child('b', 'Succeeded', [finding('memory-fragmentation', 'critical', ['y'])]),
    ]);
    expect(tally.render(2, false).findings[0]).toMatchObject({ severity: 'critical', evidence: ['a: x', 'b: y'], suggestedMitigation: mitigation });
  });

  it('groups nodes by kernel version to show where each finding appears, from the capture or else the node', () => {
    const info = new Map<string, NodeInfo>([['n4', { kernelVersion: '6.1.0-25' }]]);
    const tally = tallyOf(
      [
        child('n1', 'Succeeded', [finding('tcp-retransmits', 'warning')], '6.1.0-18'),
        child('n2', 'Succeeded', [], '6.1.0-25'),
        child('n3', 'Succeeded', [finding('tcp-retransmits', 'warning')], '6.1.0-18'),
        child('n4'),
      ],
      byKernel,
      info,
    );
    expect(tally.render(4, false).comparison?.groups).toEqual([
      { value: '6.1.0-18', nodes: 2, reported: 2, patterns: ['tcp-retransmits'] },
      { value: '6.1.0-25', nodes: 2, reported: 1, patterns: [] },
    ]);
  });

  it('states the kernels that show each finding, from the groups that reported', () => {
    const tally = tallyOf([
      child('n1', 'Succeeded', [finding('tcp-retransmits', 'warning')], '6.1.0-18-amd64'),
      child('n2', 'Succeeded', [], '6.1.0-25-amd64'),
      child('n3', 'Succeeded', [finding('tcp-retransmits', 'warning')], '6.1.0-18-amd64'),
      child('n4', 'Succeeded', [finding('tcp-retransmits', 'warning')], '6.1.0-13-amd64'),
      // No result yet: no evidence either way.
      child('n5', 'Running', [], '6.1.0-28-amd64'),
    ]);
    expect(tally.render(5, false).comparison).toEqual({
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

  it('tells Container-Optimized OS from a mainline build by the OS image most of a group’s nodes run', () => {
    const cos = { osImage: 'Container-Optimized OS from Google' };
    const info = new Map<string, NodeInfo>([
      ['n1', cos],
      ['n2', cos],
      ['n3', { osImage: 'Debian GNU/Linux 12 (bookworm)' }],
    ]);
    const tally = tallyOf(
      [child('n1', 'Succeeded', [finding('oom-kill', 'warning')], '6.1.85+'), child('n2', 'Succeeded', [], '6.1.85+'), child('n3', 'Succeeded', [], '6.1.85')],
      byKernel,
      info,
    );
    expect(tally.render(3, false).comparison?.kernelRanges).toEqual([
      {
        pattern: 'oom-kill',
        statement: 'Container-Optimized OS: seen on every release looked at (6.1.85+); none without it to place a boundary',
        range: '=6.1.85+',
      },
    ]);
  });

  it('groups by a node label when asked', () => {
    const info = new Map<string, NodeInfo>([
      ['n1', { labels: { pool: 'db' } }],
      ['n2', { labels: {} }],
    ]);
    const result = tallyOf([child('n1', 'Succeeded'), child('n2', 'Running')], { kind: 'label', label: 'pool' }, info).render(2, false);
    expect(result.comparison).toEqual({
      by: 'pool',
      groups: [
        { value: '<unset>', nodes: 1, reported: 0, patterns: [] },
        { value: 'db', nodes: 1, reported: 1, patterns: [] },
      ],
    });
  });

  it('reports figures per group with how many nodes gave them, and names a difference beyond the spread inside the groups', () => {
    const cpu = (node: string, kernel: string, share: number, extra: Result[] = []): CachedCapture =>
      child(node, 'Succeeded', [], kernel, [succeeded('cpu-profile', { kernelSharePercent: share }), ...extra]);
    const children = [
      cpu('a1', '6.1.0-28-amd64', 41, [succeeded('tcp', { retransmitPercent: 0.2 })]),
      cpu('a2', '6.1.0-28-amd64', 38),
      cpu('a3', '6.1.0-28-amd64', 45),
      cpu('b1', '6.1.0-18-amd64', 12, [succeeded('tcp', { retransmitPercent: 0.3 })]),
      cpu('b2', '6.1.0-18-amd64', 10),
      cpu('b3', '6.1.0-18-amd64', 14),
      child('b4', 'Failed', [], '6.1.0-18-amd64', []),
    ];
    const comparison = tallyOf(children).render(7, false).comparison!;
    const group = (value: string) => comparison.groups.find((g) => g.value === value)!;
    expect(group('6.1.0-28-amd64').figures).toEqual([
      { name: 'tcp-retransmit-percent', nodes: 1, median: 0.2, min: 0.2, max: 0.2 },
      { name: 'kernel-cpu-percent', nodes: 3, median: 41, min: 38, max: 45 },
    ]);
    // Four nodes, one gave no figure: the median is over the three that did.
    expect(group('6.1.0-18-amd64')).toMatchObject({
      nodes: 4,
      figures: [
        { name: 'tcp-retransmit-percent', nodes: 1 },
        { name: 'kernel-cpu-percent', nodes: 3, median: 12 },
      ],
    });
    // One node per group cannot show a spread: retransmits are not named.
    expect(comparison.differences).toEqual([
      {
        figure: 'kernel-cpu-percent',
        higher: '6.1.0-28-amd64',
        lower: '6.1.0-18-amd64',
        statement:
          'kernel-cpu-percent: every node of 6.1.0-28-amd64 gave more than every node of 6.1.0-18-amd64: median 41 % (38–45 %, 3 nodes) against median 12 % (10–14 %, 3 nodes)',
      },
    ]);
  });

  it('does not let one node out of many make its group stand out', () => {
    const nodes = (prefix: string, kernel: string, shares: number[]) =>
      shares.map((share, i) => child(`${prefix}${i}`, 'Succeeded', [], kernel, [succeeded('cpu-profile', { kernelSharePercent: share })]));
    const children = [...nodes('a', '6.6.1', [10, 11, 12, 90, 10]), ...nodes('b', '6.1.0', [10, 12, 11, 9])];
    const comparison = tallyOf(children).render(9, false).comparison!;
    expect(comparison.groups.find((g) => g.value === '6.6.1')!.figures).toEqual([{ name: 'kernel-cpu-percent', nodes: 5, median: 11, min: 10, max: 90 }]);
    expect(comparison.differences).toBeUndefined();
  });

  it('does not name a difference smaller than the figure’s minimum or the ratio', () => {
    const nodes = (prefix: string, kernel: string, shares: number[]) =>
      shares.map((share, i) => child(`${prefix}${i}`, 'Succeeded', [], kernel, [succeeded('cpu-profile', { kernelSharePercent: share })]));
    // Ranges apart, but 3 points apart: below kernel-cpu-percent's minDifference of 5.
    expect(tallyOf([...nodes('a', '6.6.1', [13, 14]), ...nodes('b', '6.1.0', [10, 11])]).render(4, false).comparison!.differences).toBeUndefined();
    // 8 points apart but 80 against 72: below the 1.2 ratio.
    expect(tallyOf([...nodes('a', '6.6.1', [80, 81]), ...nodes('b', '6.1.0', [72, 73])]).render(4, false).comparison!.differences).toBeUndefined();
  });

  it('reads allocation stalls per second of the window from the memory capture', () => {
    const c = child('n1', 'Succeeded', [], '6.1.0', [succeeded('memory', { allocStall: 30, windowSeconds: 10 })]);
    expect(tallyOf([c]).render(1, false).comparison!.groups[0]!.figures).toEqual([
      { name: 'allocation-stalls-per-second', nodes: 1, median: 3, min: 3, max: 3 },
    ]);
  });

  it('reports figures over all nodes without compareBy, the reproducer’s and the TCP traffic among them', () => {
    const nodes = [
      child('n1', 'Succeeded', [], '6.1.0', [
        succeeded('tcp', { outSegs: 5000, windowSeconds: 5, retransmitPercent: 0 }),
        succeeded('tcp-churn', { failurePercent: 2, p99Ms: 4 }),
      ]),
      child('n2', 'Succeeded', [], '6.6.1', [
        succeeded('tcp', { outSegs: 3000, windowSeconds: 5, retransmitPercent: 0 }),
        succeeded('tcp-churn', { failurePercent: 0, p99Ms: 8 }),
      ]),
    ];
    const rendered = tallyOf(nodes, noGroups).render(2, false);
    expect(rendered.comparison).toBeUndefined();
    expect(rendered.figures).toEqual([
      { name: 'tcp-segments-per-second', nodes: 2, median: 800, min: 600, max: 1000 },
      { name: 'tcp-retransmit-percent', nodes: 2, median: 0, min: 0, max: 0 },
      { name: 'reproducer-failure-percent', nodes: 2, median: 1, min: 0, max: 2 },
      { name: 'reproducer-p99-ms', nodes: 2, median: 6, min: 4, max: 8 },
    ]);
    const tally = tallyOf(nodes, noGroups);
    tally.delete('inv-n2');
    expect(tally.render(2, false).figures.find((f) => f.name === 'reproducer-p99-ms')).toEqual({
      name: 'reproducer-p99-ms',
      nodes: 1,
      median: 4,
      min: 4,
      max: 4,
    });
  });

  it('has no comparison when the investigation does not compare', () => {
    expect(tallyOf([child('n1', 'Succeeded')], noGroups).render(1, false).comparison).toBeUndefined();
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
        [
          succeeded('io-latency', { p50Ms: i % 7, p99Ms: i % 13, commitP50Ms: i % 5, commitP99Ms: i % 11 }),
          succeeded('tcp', { retransmitPercent: (i % 3) / 10 }),
          succeeded('slab', { growthKiBPerSecond: i % 17 }),
          succeeded('memory', { allocStall: i % 4, windowSeconds: 10 }),
          succeeded('cpu-profile', { kernelSharePercent: i % 50 }),
        ],
      ),
    );
    const result = tallyOf(children).render(5000, false);
    expect(result.findings.length).toBe(limits.findings);
    expect(result.findingCount).toBe(patterns.length * 20);
    expect(result.comparison?.groups.length).toBe(64);
    expect(result.comparison?.otherGroups).toBe(36);
    expect(result.comparison?.groups[0]?.figures).toHaveLength(8);
    for (const f of result.findings) for (const line of f.evidence) expect(line.length).toBeLessThanOrEqual(limits.evidenceChars);
    const bytes = Buffer.byteLength(stableStringify({ findings: result.findings, comparison: result.comparison, captures: result.captures }));
    expect(bytes).toBeLessThan(256 * 1024);
  });
});

/** A small deterministic pseudo-random generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('InvestigationTally kept incrementally', () => {
  const phases: (CapturePhase | undefined)[] = [undefined, 'Running', 'Succeeded', 'Failed', 'Unsupported', 'TimedOut'];
  const severities: Finding['severity'][] = ['info', 'warning', 'critical'];

  it('renders what a recount of the same children renders, after any sequence of adds, updates, deletes and node changes', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const next = random(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
      const nodes = Array.from({ length: 40 }, (_, i) => `node-${String(i).padStart(2, '0')}`);
      const osImages = ['Debian GNU/Linux 12 (bookworm)', 'Container-Optimized OS from Google', 'Bottlerocket OS 1.20.0'];
      const info = new Map<string, NodeInfo>(
        nodes.map((n) => [n, { kernelVersion: pick(['6.1.0', '6.6.1']), osImage: pick(osImages), labels: { pool: pick(['a', 'b', 'c']) } }]),
      );
      const groupBy: GroupBy = seed % 2 === 0 ? byKernel : { kind: 'label', label: 'pool' };
      const lookup = (n: string): NodeInfo | undefined => info.get(n);
      const incremental = new InvestigationTally('u1', groupBy);
      const current = new Map<string, CachedCapture>();
      for (let step = 0; step < 400; step++) {
        const node = pick(nodes);
        const roll = next();
        if (roll < 0.15) {
          current.delete(node);
          incremental.delete(`inv-${node}`);
        } else if (roll < 0.25) {
          // The node's labels or kernel change: its child is summarized again (what ChildTallies does).
          info.set(node, { kernelVersion: pick(['6.1.0', '6.6.1', '6.12.0']), osImage: pick(osImages), labels: { pool: pick(['a', 'b', 'c', 'd']) } });
          const c = current.get(node);
          if (c) incremental.set(c.metadata.name!, summarize(c, groupBy, lookup));
        } else {
          const findings = Array.from({ length: Math.floor(next() * 4) }, () =>
            finding(pick(findingPatterns.slice(0, 5)), pick(severities), [`${node} ${step} a`, `${node} ${step} b`], {
              capture: pick(['memory', 'slab']),
              ...(next() < 0.3 ? { suggestedMitigation: { sysctls: [{ name: 'vm.min_free_kbytes', value: String(step) }] } } : {}),
              ...(next() < 0.4
                ? { pods: [{ namespace: 'shop', name: `${node}-p${step}`, ...(next() < 0.7 ? { owner: pick(['Deployment/web', 'StatefulSet/db']) } : {}) }] }
                : {}),
            }),
          );
          const results = [
            ...(next() < 0.7 ? [succeeded('tcp', { retransmitPercent: Math.floor(next() * 5) / 10 })] : []),
            ...(next() < 0.5 ? [succeeded('cpu-profile', { kernelSharePercent: Math.floor(next() * 100) })] : []),
          ];
          const c = child(node, pick(phases), findings, pick(['6.1.0-18-amd64', '6.1.0-25-amd64', '6.6.1', '6.1.85+']), results);
          current.set(node, c);
          incremental.set(c.metadata.name!, summarize(c, groupBy, lookup));
        }
        if (step % 10 === 0 || step === 399) {
          for (const deadlinePassed of [false, true]) {
            const recount = new InvestigationTally('u1', groupBy);
            for (const c of current.values()) recount.set(c.metadata.name!, summarize(c, groupBy, lookup));
            expect(stableStringify(incremental.render(45, deadlinePassed)), `seed ${seed} step ${step}`).toBe(
              stableStringify(recount.render(45, deadlinePassed)),
            );
          }
        }
      }
      expect(incremental.size).toBe(current.size);
    }
  });
});
