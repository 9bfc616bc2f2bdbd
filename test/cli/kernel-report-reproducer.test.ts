import { describe, expect, it } from 'vitest';
import type { KernelCapture, KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { renderKernelReport, reproducerBegin, reproducerEnd } from '../../cli/kernel-report/markdown.js';

const investigation = {
  apiVersion: 'ksleuth.io/v1alpha1',
  kind: 'KernelInvestigation',
  metadata: { name: 'churn' },
  spec: {
    nodes: { selector: {}, maxNodes: 10 },
    captures: [{ tcp: {} }],
    durationSeconds: 20,
    ttlSecondsAfterFinished: 60,
    workload: { tcpChurn: { concurrency: 4 } },
  },
  status: { phase: 'Completed', findings: [] },
} as unknown as KernelInvestigation;

function capture(node: string, kernel: string, summary: Record<string, number>): KernelCapture {
  return {
    apiVersion: 'ksleuth.io/v1alpha1',
    kind: 'KernelCapture',
    metadata: { name: `churn-${node}` },
    spec: { investigation: 'churn', nodeName: node, captures: [{ tcp: {} }], durationSeconds: 20, deadline: '2030-01-01T00:00:00Z' },
    status: {
      phase: 'Succeeded',
      kernelVersion: kernel,
      results: [
        { name: 'tcp', kind: 'tcp', state: 'Succeeded', summary: { retransmitPercent: 0 } },
        { name: 'workload-tcp-churn', kind: 'tcp-churn', state: 'Succeeded', summary },
      ],
    },
  } as KernelCapture;
}

describe('the report’s reproducer section', () => {
  it('names the reproducer with its parameters and lists its figures per node between the markers', () => {
    const md = renderKernelReport({
      investigation,
      captures: [
        capture('n2', '6.1.0-28-amd64', { connections: 9000, succeeded: 8900, failed: 100, timeouts: 100, failurePercent: 1.11, p50Ms: 0.256, p99Ms: 204.8 }),
        capture('n1', '6.1.0-18-amd64', { connections: 12000, succeeded: 12000, failed: 0, timeouts: 0, failurePercent: 0, p50Ms: 0.128, p99Ms: 1.024 }),
      ],
      bundles: new Map(),
      artifacts: [],
      outDir: '/tmp/out',
      generatedAt: new Date('2026-12-03T00:00:00Z'),
      ksleuthVersion: 'test',
    });
    const section = md.slice(md.indexOf(reproducerBegin), md.indexOf(reproducerEnd));
    expect(section).not.toContain('No reproducer ran');
    expect(section).toContain('The built-in reproducer `tcp-churn` ran on every node for the 20 s capture window');
    // Defaults filled in beside what the user set.
    expect(section).toMatch(/tcpChurn:\n\s+concurrency: 4\n\s+maxConnections: 100000\n\s+payloadBytes: 512\n\s+deadlineMs: 200/);
    expect(section).toContain('| node | kernel release | state | connections | succeeded | failed | timeouts | failurePercent | p50Ms | p99Ms |');
    expect(section.indexOf('| n1 | `6.1.0-18-amd64` | Succeeded | 12000 | 12000 | 0 | 0 | 0 | 0.128 | 1.024 |')).toBeGreaterThan(-1);
    expect(section.indexOf('| n2 |')).toBeGreaterThan(section.indexOf('| n1 |'));
    expect(section).toContain('workload:\n    tcpChurn:');
  });
});

describe('the report’s baseline section', () => {
  it('states the baseline, the figures that moved and the findings that appeared or went, and leaves the baseline window out of the nodes', () => {
    const withBaseline = {
      ...investigation,
      spec: { ...investigation.spec, baseline: { run: true } },
      status: {
        phase: 'Completed',
        findings: [],
        baseline: {
          source: 'baseline window: the same captures on the same 1 node without the workload, just before it',
          summary: '1 figure moved, 1 new finding, 0 gone',
          changed: [
            {
              name: 'tcp-segments-per-second',
              baseline: 5,
              workload: 2250,
              change: 2245,
              statement: 'tcp-segments-per-second rose from median 5 /s (5 /s, 1 nodes) in the baseline to median 2250 /s (2250 /s, 1 nodes)',
            },
          ],
          appeared: [{ pattern: 'reproducer-failures', severity: 'warning', title: '3% of connections failed', nodes: 1 }],
          gone: [],
        },
      },
    } as unknown as KernelInvestigation;
    const baselineWindow = { ...capture('n1', '6.1.0-18-amd64', {}), metadata: { name: 'churn-n1-baseline' } } as KernelCapture;
    baselineWindow.spec = { ...baselineWindow.spec, baseline: true };
    const md = renderKernelReport({
      investigation: withBaseline,
      captures: [capture('n1', '6.1.0-18-amd64', { connections: 100, failurePercent: 3 }), baselineWindow],
      bundles: new Map(),
      artifacts: [],
      outDir: '/tmp/out',
      generatedAt: new Date('2026-12-03T00:00:00Z'),
      ksleuthVersion: 'test',
    });
    const section = md.slice(md.indexOf('## Against the baseline'), md.indexOf(reproducerBegin));
    expect(section).toContain(
      'Baseline: baseline window: the same captures on the same 1 node without the workload, just before it. 1 figure moved, 1 new finding, 0 gone.',
    );
    expect(section).toContain('- tcp-segments-per-second rose from median 5 /s');
    expect(section).toMatch(/\| only with the workload \| `reproducer-failures` \| warning \| 1 \| 3% of connections failed \|/);
    const nodes = md.slice(md.indexOf('## Nodes'));
    expect(nodes.match(/^\| n1 \|/gm)).toHaveLength(1);
  });
});
