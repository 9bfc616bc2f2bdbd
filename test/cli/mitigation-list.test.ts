import { describe, expect, it } from 'vitest';
import type { KernelMitigation } from '../../api/v1alpha1/resources.js';
import { mitigationTable } from '../../cli/mitigation-list.js';

const now = Date.parse('2026-12-04T12:00:00Z');

function mitigation(name: string, status: KernelMitigation['status']): KernelMitigation {
  return {
    apiVersion: 'ksleuth.io/v1alpha1',
    kind: 'KernelMitigation',
    metadata: { name, creationTimestamp: new Date(now - 90_000) as never },
    spec: { sysctls: [{ name: 'net.ipv4.tcp_fastopen', value: '0' }], priority: 0, revertPolicy: 'Restore', dryRun: false },
    ...(status ? { status } : {}),
  };
}

describe('ksleuth get mitigations', () => {
  const items = [
    mitigation('tfo', {
      progress: '1/1',
      podCoverage: '2/3',
      nodes: { matched: 1, applied: 1, pending: 0, failed: 0, drifted: 0, skippedKernel: 0, conflicted: 0, overridden: 0 },
      pods: { inScope: 3, holding: 2, exceptions: 1, examples: [{ node: 'node-1', pod: 'shop/db-0', sysctl: 'net.ipv4.tcp_fastopen', reason: 'PodDeclares' }] },
      conditions: [{ type: 'Ready', status: 'True', reason: 'AllNodesApplied', message: 'held on 1 node', lastTransitionTime: '2026-12-04T12:00:00Z' }],
    }),
    mitigation('swap', undefined),
  ];

  it('shows nodes applied and pods holding, as kubectl get kmit does', () => {
    expect(mitigationTable(items, false, now).split('\n')).toEqual([
      'NAME   APPLIED   PODS     MATCHED   FAILED   READY    AGE',
      'tfo    1/1       2/3      1         0        True     1m30s',
      'swap   <none>    <none>   <none>    <none>   <none>   1m30s',
    ]);
  });

  it('names the first pod that does not hold them, and why, when wide', () => {
    expect(mitigationTable(items, true, now).split('\n')[1]).toMatch(/net\.ipv4\.tcp_fastopen=0\s+shop\/db-0 on node-1: PodDeclares$/);
  });
});
