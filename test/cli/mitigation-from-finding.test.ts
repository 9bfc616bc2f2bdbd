import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { mitigationSpec } from '../../api/v1alpha1/mitigation.js';
import type { KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { mitigationFromFinding, mitigationYaml, ScopeError } from '../../cli/mitigation-from-finding.js';
import { kernelInRange, parseKernelRange } from '../../lib/kernel/range.js';

const investigation = {
  apiVersion: 'ksleuth.io/v1alpha1',
  kind: 'KernelInvestigation',
  metadata: { name: 'allocation-failures' },
  spec: {
    nodes: { selector: { matchLabels: { pool: 'database' } }, maxNodes: 10 },
    captures: [{ memory: {} }],
    durationSeconds: 30,
    ttlSecondsAfterFinished: 60,
  },
  status: {
    findings: [
      {
        pattern: 'memory-fragmentation',
        severity: 'warning',
        title: 'Free memory in zone Normal is fragmented',
        evidence: ['db-1: order-3 index 0.93'],
        recommendation: 'Raise vm.min_free_kbytes.',
        suggestedMitigation: { sysctls: [{ name: 'vm.min_free_kbytes', value: '262144' }], reason: 'A larger reserve keeps high-order pages free.' },
        nodes: { count: 2, examples: ['db-1', 'db-2'] },
      },
      {
        pattern: 'tcp-close-wait-backlog',
        severity: 'warning',
        title: 'CLOSE_WAIT',
        evidence: [],
        recommendation: 'Fix the application.',
        nodes: { count: 1, examples: ['db-3'] },
      },
    ],
    comparison: {
      by: 'kernelVersion',
      groups: [
        { value: '6.1.0-18-amd64', nodes: 2, reported: 2, patterns: ['memory-fragmentation'] },
        { value: '6.1.0-25-amd64', nodes: 1, reported: 1, patterns: ['memory-fragmentation', 'tcp-close-wait-backlog'] },
        { value: '6.1.0-13-amd64', nodes: 1, reported: 1, patterns: [] },
      ],
    },
  },
} as unknown as KernelInvestigation;

function withSpec(nodes: Record<string, unknown>, comparison?: unknown): KernelInvestigation {
  return {
    ...investigation,
    spec: { ...investigation.spec, nodes: nodes as KernelInvestigation['spec']['nodes'] },
    status: { ...investigation.status, ...(comparison !== undefined ? { comparison } : {}) },
  } as KernelInvestigation;
}

describe('ksleuth mitigation from-finding', () => {
  it('builds a mitigation from the suggested sysctls, scoped to the selector and the kernel range the comparison shows', () => {
    const { mitigation, notes } = mitigationFromFinding(investigation, 'memory-fragmentation', { dryRun: false });
    expect(mitigation.metadata.name).toBe('memory-fragmentation-allocation-failures');
    expect(mitigation.spec.sysctls).toEqual([{ name: 'vm.min_free_kbytes', value: '262144' }]);
    expect(mitigation.spec.nodeSelector).toEqual({ matchLabels: { pool: 'database' } });
    // Not seen on 6.1.0-13, seen on 18 and 25: a range, not a list of versions.
    expect(mitigation.spec.kernelVersions).toBe('>=6.1.0-18-amd64 <6.2');
    const range = parseKernelRange(mitigation.spec.kernelVersions!);
    expect(kernelInRange('6.1.0-22-amd64', range)).toBe(true);
    expect(kernelInRange('6.1.0-13-amd64', range)).toBe(false);
    expect(notes).toEqual(['kernels: Debian: seen on 6.1.0-18-amd64 and later, not on 6.1.0-13-amd64 and earlier']);
    expect(mitigation.spec.description).toMatch(/found by investigation allocation-failures on 2 nodes\. A larger reserve/);
  });

  it('uses the range the operator derived, and lists exact releases where the evidence does not order', () => {
    const derived = withSpec(investigation.spec.nodes, {
      ...investigation.status!.comparison,
      kernelRanges: [
        { pattern: 'memory-fragmentation', statement: 'Debian: seen on 6.1.0-18-amd64 to 6.1.0-20-amd64, ...', range: '>=6.1.0-18-amd64 <6.1.0-21-amd64' },
      ],
    });
    expect(mitigationFromFinding(derived, 'memory-fragmentation', { dryRun: false }).mitigation.spec.kernelVersions).toBe('>=6.1.0-18-amd64 <6.1.0-21-amd64');
    const alternating = withSpec(investigation.spec.nodes, {
      by: 'kernelVersion',
      groups: [
        { value: '6.1.0-13-amd64', nodes: 1, reported: 1, patterns: ['memory-fragmentation'] },
        { value: '6.1.0-18-amd64', nodes: 1, reported: 1, patterns: [] },
        { value: '6.1.0-25-amd64', nodes: 1, reported: 1, patterns: ['memory-fragmentation'] },
      ],
    });
    const built = mitigationFromFinding(alternating, 'memory-fragmentation', { dryRun: false });
    expect(built.mitigation.spec.kernelVersions).toBe('=6.1.0-13-amd64 || =6.1.0-25-amd64');
    expect(built.notes[0]).toMatch(/^no kernel range: Debian: cannot state a range: seen on 6\.1\.0-13-amd64, then not seen on 6\.1\.0-18-amd64/);
  });

  it('turns node names into a kubernetes.io/hostname selector, using the nodes’ own labels', () => {
    const named = withSpec({ names: ['db-2', 'db-1'], maxNodes: 10 });
    const { mitigation, notes } = mitigationFromFinding(named, 'memory-fragmentation', { dryRun: false, hostnames: new Map([['db-1', 'ip-10-0-0-1']]) });
    expect(mitigation.spec.nodeSelector).toEqual({ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['db-2', 'ip-10-0-0-1'] }] });
    expect(notes.at(-1)).toMatch(/label of db-2 could not be read; the node name was used/);
  });

  it('refuses to scope a mitigation to every node, or where one selector cannot say which nodes', () => {
    const refuse = (nodes: Record<string, unknown>) => () => mitigationFromFinding(withSpec(nodes), 'memory-fragmentation', { dryRun: false });
    expect(refuse({ selector: {}, maxNodes: 10 })).toThrow(ScopeError);
    expect(refuse({ selector: { matchLabels: {} }, maxNodes: 10 })).toThrow(/empty selector, which matches every node/);
    expect(refuse({ names: ['a'], selector: { matchLabels: { pool: 'db' } }, maxNodes: 10 })).toThrow(/by names and by a selector/);
    expect(refuse({ names: Array.from({ length: 65 }, (_, i) => `n${i}`), maxNodes: 100 })).toThrow(
      /named 65 nodes; a nodeSelector requirement takes at most 64 values/,
    );
    expect(refuse({ names: [`${'n'.repeat(70)}.example.com`], maxNodes: 10 })).toThrow(/cannot be a kubernetes\.io\/hostname label value/);
  });

  it('prints YAML that is a valid KernelMitigation, with where it came from', () => {
    const { mitigation, finding, notes } = mitigationFromFinding(investigation, 'memory-fragmentation', { dryRun: true, name: 'reserve' });
    const text = mitigationYaml(mitigation, finding, notes);
    expect(text).toMatch(/^# From the "memory-fragmentation" finding of investigation allocation-failures:/);
    expect(text).toContain('#   kernels: Debian: seen on 6.1.0-18-amd64 and later');
    const doc = parse(text) as { kind: string; metadata: { name: string }; spec: unknown };
    expect(doc).toMatchObject({ kind: 'KernelMitigation', metadata: { name: 'reserve' } });
    expect(mitigationSpec.parse(doc.spec)).toMatchObject({ dryRun: true, kernelVersions: '>=6.1.0-18-amd64 <6.2' });
  });

  it('says why when there is nothing to build', () => {
    expect(() => mitigationFromFinding(investigation, 'tcp-close-wait-backlog', { dryRun: false })).toThrow(
      /suggests no sysctl that helps; its recommendation: Fix the application\./,
    );
    expect(() => mitigationFromFinding(investigation, 'oom-kill', { dryRun: false })).toThrow(
      /has no "oom-kill" finding; it has: memory-fragmentation, tcp-close-wait-backlog/,
    );
  });
});
