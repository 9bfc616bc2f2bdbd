import { describe, expect, it } from 'vitest';
import { mitigationSpec } from '../../../api/v1alpha1/mitigation.js';
import type { DesiredSysctl, SysctlStatus } from '../../../api/v1alpha1/node.js';
import { findCondition } from '../../../lib/conditions.js';
import { resolveMitigations, type MitigationInput, type NodeInput } from '../../../operator/mitigation/resolve.js';
import { mitigationStatus } from '../../../operator/mitigation/status.js';

const clock = () => new Date('2026-12-01T00:00:00Z');
const fastopenOff = { sysctls: [{ name: 'net.ipv4.tcp_fastopen', value: '0' }] };
const held: DesiredSysctl[] = [{ name: 'net.ipv4.tcp_fastopen', value: '0', mitigation: 'tfo', revertPolicy: 'Restore', dryRun: false }];
const state = (s: SysctlStatus['state']): SysctlStatus[] => [
  {
    name: 'net.ipv4.tcp_fastopen',
    mitigation: 'tfo',
    desired: '0',
    current: s === 'Applied' ? '0' : '1',
    state: s,
    ...(s === 'Failed' ? { message: 'EPERM' } : {}),
  },
];

function mit(spec: Record<string, unknown>, extra: Partial<MitigationInput> = {}): MitigationInput {
  return { name: 'tfo', spec: mitigationSpec.parse(spec), deleting: false, ...extra };
}

function node(name: string, status: SysctlStatus[] = [], labels: Record<string, string> = {}): NodeInput {
  return { name, labels, kernelVersion: '6.1.10', registered: true, current: held, status };
}

/** The three conditions kstatus reads, as [type, status, reason]. */
function health(m: MitigationInput, nodes: NodeInput[], others: MitigationInput[] = []) {
  const { views } = resolveMitigations([m, ...others], nodes);
  const status = mitigationStatus(m, m.refused ? undefined : views.get(m.name), nodes, 3, undefined, clock);
  return ['Ready', 'Reconciling', 'Stalled'].map((type) => {
    const c = findCondition(status.conditions, type)!;
    expect(c.observedGeneration).toBe(3);
    return [type, c.status, c.reason];
  });
}

describe('mitigation health (Ready, Reconciling, Stalled)', () => {
  it('is Ready when every node holds the values', () => {
    expect(health(mit(fastopenOff), [node('a', state('Applied')), node('b', state('Applied'))])).toEqual([
      ['Ready', 'True', 'AllNodesApplied'],
      ['Reconciling', 'False', 'AllNodesApplied'],
      ['Stalled', 'False', 'AllNodesApplied'],
    ]);
  });

  it('is Reconciling while nodes are pending', () => {
    expect(health(mit(fastopenOff), [node('a', state('Applied')), node('b')])).toEqual([
      ['Ready', 'False', 'RollingOut'],
      ['Reconciling', 'True', 'RollingOut'],
      ['Stalled', 'False', 'RollingOut'],
    ]);
  });

  it('is Stalled when a node failed, even while others still roll out', () => {
    expect(health(mit(fastopenOff), [node('a', state('Failed')), node('b')])).toEqual([
      ['Ready', 'False', 'NodesFailed'],
      ['Reconciling', 'False', 'NodesFailed'],
      ['Stalled', 'True', 'NodesFailed'],
    ]);
  });

  it('is Stalled with the refusal as reason for an invalid spec', () => {
    const refused = mit(fastopenOff, { refused: 'spec.sysctls[0]: kernel.foo is not allowed', refusedReason: 'SysctlNotAllowed' });
    expect(health(refused, [node('a')]).map(([t, s]) => [t, s])).toEqual([
      ['Ready', 'False'],
      ['Reconciling', 'False'],
      ['Stalled', 'True'],
    ]);
    expect(health(refused, [node('a')])[2]![2]).toBe('SysctlNotAllowed');
  });

  it('is Stalled by a conflict at equal priority', () => {
    const other = { ...mit({ sysctls: [{ name: 'net.ipv4.tcp_fastopen', value: '1' }] }), name: 'other' };
    expect(health(mit(fastopenOff), [node('a')], [other])[2]).toEqual(['Stalled', 'True', 'ConflictingMitigation']);
  });

  it('is Ready when nothing has to change: a dry run, or no matching node', () => {
    expect(health(mit({ ...fastopenOff, dryRun: true }), [node('a')])[0]).toEqual(['Ready', 'True', 'DryRun']);
    expect(health(mit({ ...fastopenOff, nodeSelector: { matchLabels: { pool: 'none' } } }), [node('a')])[0]).toEqual(['Ready', 'True', 'NoMatchingNodes']);
  });
});

describe('pod coverage', () => {
  const withPods = (holding: number, inScope: number, exceptions: NonNullable<SysctlStatus['pods']>['exceptions'] = []): SysctlStatus[] => [
    { ...state('Applied')[0]!, pods: { inScope, holding, exceptionCount: inScope - holding, ...(exceptions.length > 0 ? { exceptions } : {}) } },
  ];

  it('sums the nodes’ pods and names the exceptions with their node', () => {
    const m = mit({ ...fastopenOff, pods: { namespaces: ['shop'] } });
    const nodes = [
      node('a', withPods(3, 4, [{ pod: 'shop/db-0', reason: 'PodDeclares', message: 'sets net.ipv4.tcp_fastopen=1 itself' }])),
      node('b', withPods(2, 2)),
    ];
    const { views, desired } = resolveMitigations([m], nodes);
    expect(desired.get('a')).toEqual([expect.objectContaining({ pods: { namespaces: ['shop'] } })]);
    const status = mitigationStatus(m, views.get('tfo'), nodes, 1, undefined, clock);
    expect(status.podCoverage).toBe('5/6');
    expect(status.pods).toEqual({
      inScope: 6,
      holding: 5,
      exceptions: 1,
      examples: [{ node: 'a', sysctl: 'net.ipv4.tcp_fastopen', pod: 'shop/db-0', reason: 'PodDeclares', message: 'sets net.ipv4.tcp_fastopen=1 itself' }],
    });
  });

  it('is absent when no node reports pods (global sysctls, or agents without pods)', () => {
    const m = mit(fastopenOff);
    const nodes = [node('a', state('Applied'))];
    const status = mitigationStatus(m, resolveMitigations([m], nodes).views.get('tfo'), nodes, 1, undefined, clock);
    expect(status.pods).toBeUndefined();
    expect(status.podCoverage).toBeUndefined();
  });

  it('refuses a namespace that is not a name and a pod selector with a bad operator, naming the field', () => {
    const bad = mitigationSpec.safeParse({
      ...fastopenOff,
      pods: { namespaces: ['Shop_1'], podSelector: { matchExpressions: [{ key: 'app', operator: 'In' }] } },
    });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join('.'))).toEqual(['pods.namespaces.0', 'pods.podSelector.matchExpressions.0']);
  });
});
