/**
 * What the investigation controller's aggregation costs per child update and per status render,
 * with N children (default 5,000) of which a third report a finding and each finished one gives five
 * comparison figures: the tally kept one child at a
 * time (now), against a from-scratch `aggregate(...)` of every child when one is given with --before.
 *
 *   npx tsx bench/aggregation-cost.ts [--children 5000] [--before path/to/operator/investigation/aggregate.ts]
 */
import { parseArgs } from 'node:util';
import type { KernelCapture } from '../api/v1alpha1/resources.js';
import { investigationSpec } from '../api/v1alpha1/investigation.js';
import { cachedCapture, type CachedCapture } from '../operator/investigation/cached.js';
import { InvestigationTally, summarize, type NodeInfo } from '../operator/investigation/tally.js';

const { values } = parseArgs({ options: { children: { type: 'string', default: '5000' }, before: { type: 'string' } } });
const count = Number(values.children);

function capture(i: number, phase: 'Running' | 'Succeeded'): KernelCapture {
  const node = `bench-${String(i).padStart(4, '0')}`;
  const findings =
    phase === 'Succeeded' && i % 3 === 0
      ? [
          {
            pattern: 'memory-fragmentation' as const,
            severity: (i % 7 === 0 ? 'critical' : 'warning') as 'critical' | 'warning',
            title: 'Free memory is fragmented (stand-in)',
            capture: 'memory',
            evidence: [`${node}: order-3 unusable free space index 0.91 (stand-in)`],
            recommendation: 'Raise vm.min_free_kbytes (stand-in).',
            suggestedMitigation: { sysctls: [{ name: 'vm.min_free_kbytes', value: '262144' }] },
          },
        ]
      : [];
  return {
    apiVersion: 'ksleuth.io/v1alpha1',
    kind: 'KernelCapture',
    metadata: {
      name: `fleet-${node}`,
      uid: `u-${i}`,
      resourceVersion: String(i),
      ownerReferences: [{ apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelInvestigation', name: 'fleet', uid: 'p', controller: true }],
    },
    spec: { investigation: 'fleet', nodeName: node, captures: [{ memory: {} }], durationSeconds: 10, deadline: '2030-01-01T00:00:00Z' },
    status: {
      phase,
      kernelVersion: i % 10 === 7 ? '6.1.90-bench' : '6.1.55-bench',
      findingCount: findings.length,
      findings,
      // The comparison's figures come from these summaries (lib/figures.ts): five per node.
      ...(phase === 'Succeeded'
        ? {
            results: [
              {
                name: 'io-latency',
                kind: 'io-latency',
                state: 'Succeeded',
                summary: { p50Ms: (i % 11) / 10, p99Ms: i % 37, commitP50Ms: i % 5, commitP99Ms: i % 23 },
              },
              { name: 'workload-tcp-churn', kind: 'tcp-churn', state: 'Succeeded', summary: { failurePercent: (i % 13) / 10 } },
            ],
          }
        : {}),
    },
  } as KernelCapture;
}

function time(label: string, runs: number, work: () => void): number {
  work();
  const start = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) work();
  const perRun = Number(process.hrtime.bigint() - start) / 1e6 / runs;
  console.log(`${label.padEnd(60)} ${perRun < 1 ? `${(perRun * 1000).toFixed(1)} µs` : `${perRun.toFixed(2)} ms`}`);
  return perRun;
}

const info = new Map<string, NodeInfo>();
const running = Array.from({ length: count }, (_, i) => capture(i, 'Running'));
const done = Array.from({ length: count }, (_, i) => capture(i, 'Succeeded'));
const cachedRunning = running.map(cachedCapture);
const cachedDone = done.map(cachedCapture);
const groupBy = { kind: 'kernelVersion' } as const;
console.log(`aggregation cost with ${count} children\n`);

const tally = new InvestigationTally('p', groupBy);
for (const c of cachedRunning)
  tally.set(
    c.metadata.name!,
    summarize(c, groupBy, (n) => info.get(n)),
  );
let next = 0;
time('now: one child reports (transform + summarize + tally.set)', count, () => {
  const i = next++ % count;
  const c: CachedCapture = cachedCapture(next % 2 ? done[i]! : running[i]!);
  tally.set(
    c.metadata.name!,
    summarize(c, groupBy, (n) => info.get(n)),
  );
});
for (const c of cachedDone)
  tally.set(
    c.metadata.name!,
    summarize(c, groupBy, (n) => info.get(n)),
  );
time('now: is a status write due (progress)', 100_000, () => void tally.progress(count, false));
time('now: render the status from the tally', 200, () => void tally.render(count, false));
let changed = 0;
time('now: one child reports, then render (figures per group included)', 200, () => {
  const c = cachedDone[changed++ % count]!;
  tally.set(
    c.metadata.name!,
    summarize(c, groupBy, (n) => info.get(n)),
  );
  void tally.render(count, false);
});
time('now: build a tally from the store (after a restart)', 5, () => {
  const fresh = new InvestigationTally('p', groupBy);
  for (const c of cachedDone)
    fresh.set(
      c.metadata.name!,
      summarize(c, groupBy, (n) => info.get(n)),
    );
});

if (values.before) {
  const { aggregate } = (await import(values.before)) as {
    aggregate: (spec: unknown, targetNodes: number, children: KernelCapture[], nodeInfo: Map<string, NodeInfo>, deadlinePassed: boolean) => unknown;
  };
  const spec = investigationSpec.parse({ nodes: { names: ['a'] }, captures: [{ memory: {} }], compareBy: { kernelVersion: true } });
  time('before: aggregate every child (each reconcile, each report)', 20, () => void aggregate(spec, count, done, info, false));
}
