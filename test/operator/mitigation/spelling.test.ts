import { describe, expect, it } from 'vitest';
import type { SysctlStatus } from '../../../api/v1alpha1/node.js';
import type { KernelMitigation } from '../../../api/v1alpha1/resources.js';
import { loadAllowList } from '../../../lib/sysctl/allowlist-load.js';
import { mitigationInput } from '../../../operator/mitigation/input.js';
import { type NodeInput, resolveMitigations } from '../../../operator/mitigation/resolve.js';
import { mitigationStatus } from '../../../operator/mitigation/status.js';

const allowList = await loadAllowList();

function mitigation(name: string, sysctls: { name: string; value: string }[]): KernelMitigation {
  return { apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelMitigation', metadata: { name, generation: 1 }, spec: { sysctls } } as KernelMitigation;
}

/** What the operator does with a list of KernelMitigations on one node, the way its controller does it. */
function resolveOnNode(mitigations: KernelMitigation[], status: SysctlStatus[] = []) {
  const inputs = mitigations.map((m) => mitigationInput(m, allowList));
  const node: NodeInput = { name: 'n1', labels: {}, kernelVersion: '6.18.0', registered: true, current: [], status };
  const first = resolveMitigations(inputs, [node]);
  // The KernelNode now holds what was resolved; the agent reports against it.
  const written = { ...node, current: first.desired.get('n1') ?? [] };
  const { desired, views } = resolveMitigations(inputs, [written]);
  return { inputs, desired: desired.get('n1') ?? [], views, node: written };
}

// The API refuses "010" now (manifests/examples/invalid/sysctl-value-leading-zero.yaml); these are
// objects stored before it did, which the operator carries in the canonical form.
describe('a sysctl value spelled differently from how the kernel prints it ("010" for 10)', () => {
  it('resolves to the canonical value the agent writes and reports', () => {
    const { desired } = resolveOnNode([mitigation('swap', [{ name: 'vm.swappiness', value: '010' }])]);
    expect(desired).toMatchObject([{ name: 'vm.swappiness', value: '10', mitigation: 'swap' }]);
  });

  it('is no conflict with the same value spelled canonically', () => {
    const { views, desired } = resolveOnNode([
      mitigation('a-leading-zero', [{ name: 'vm.swappiness', value: '010' }]),
      mitigation('b-canonical', [{ name: 'vm.swappiness', value: '10' }]),
    ]);
    expect(views.get('a-leading-zero')!.conflicts.size).toBe(0);
    expect(views.get('b-canonical')!.conflicts.size).toBe(0);
    expect(desired).toMatchObject([{ name: 'vm.swappiness', value: '10' }]);
  });

  it('counts the node applied, not pending, once the agent reports the canonical value held', () => {
    const m = mitigation('swap', [{ name: 'vm.swappiness', value: '010' }]);
    // The agent checks the value itself and reports the form it wrote and read back.
    const agentReport: SysctlStatus[] = [{ name: 'vm.swappiness', mitigation: 'swap', desired: '10', current: '10', original: '60', state: 'Applied' }];
    const { inputs, views, node } = resolveOnNode([m], agentReport);
    const status = mitigationStatus(inputs[0]!, views.get('swap'), [{ ...node, status: agentReport }], 1, undefined);
    expect(status.nodes).toMatchObject({ matched: 1, applied: 1, pending: 0 });
    expect(status.conditions?.find((c) => c.type === 'Applied')).toMatchObject({ status: 'True' });
  });

  it('canonicalises tuples too ("04096  87380 6291456")', () => {
    const { desired } = resolveOnNode([mitigation('rmem', [{ name: 'net.ipv4.tcp_rmem', value: '04096  87380 6291456' }])]);
    expect(desired).toMatchObject([{ name: 'net.ipv4.tcp_rmem', value: '4096 87380 6291456' }]);
  });
});
