import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { mitigationSpec } from '../../api/v1alpha1/mitigation.js';
import type { KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { mitigationFromFinding, mitigationYaml } from '../../cli/mitigation-from-finding.js';

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
        { value: '6.1.0-25-amd64', nodes: 1, reported: 1, patterns: ['tcp-close-wait-backlog'] },
      ],
    },
  },
} as unknown as KernelInvestigation;

describe('ksleuth mitigation from-finding', () => {
  it('builds a mitigation from the suggested sysctls, scoped to the selector and the kernels that showed the finding', () => {
    const { mitigation } = mitigationFromFinding(investigation, 'memory-fragmentation', { dryRun: false });
    expect(mitigation.metadata.name).toBe('memory-fragmentation-allocation-failures');
    expect(mitigation.spec.sysctls).toEqual([{ name: 'vm.min_free_kbytes', value: '262144' }]);
    expect(mitigation.spec.nodeSelector).toEqual({ matchLabels: { pool: 'database' } });
    expect(mitigation.spec.kernelVersions).toBe('=6.1.0');
    expect(mitigation.spec.description).toMatch(/found by investigation allocation-failures on 2 nodes\. A larger reserve/);
  });

  it('prints YAML that is a valid KernelMitigation, with where it came from', () => {
    const { mitigation, finding } = mitigationFromFinding(investigation, 'memory-fragmentation', { dryRun: true, name: 'reserve' });
    const text = mitigationYaml(mitigation, finding);
    expect(text).toMatch(/^# From the "memory-fragmentation" finding of investigation allocation-failures:/);
    const doc = parse(text) as { kind: string; metadata: { name: string }; spec: unknown };
    expect(doc).toMatchObject({ kind: 'KernelMitigation', metadata: { name: 'reserve' } });
    expect(mitigationSpec.parse(doc.spec)).toMatchObject({ dryRun: true, kernelVersions: '=6.1.0' });
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
