import { describe, expect, it } from 'vitest';
import { one, policyVariables, render } from './chart.js';

// Pod workloads (spec.workload.pod): the namespace, the operator's Role there, its flags, and the
// policy that lets only requesters who may create Pods there ask for one.
describe('chart: workload Pods', () => {
  it('by default: no namespace, no Role, no operator flag, and the policy refuses every Pod workload', async () => {
    const objects = await render();
    expect(
      objects.filter(
        (o) =>
          o.kind === 'Namespace' ||
          (o.metadata.name.endsWith('-workload-pods') && o.kind !== 'ValidatingAdmissionPolicy' && o.kind !== 'ValidatingAdmissionPolicyBinding'),
      ),
    ).toEqual([]);
    const args: string[] = one(objects, 'Deployment').spec.template.spec.containers[0].args;
    expect(args.some((a) => a.startsWith('--workload-'))).toBe(false);
    const policy = one(objects, 'ValidatingAdmissionPolicy', '-workload-pods');
    expect(policy.spec.validations).toEqual([expect.objectContaining({ expression: '!variables.addsPod', reason: 'Forbidden' })]);
    expect(policy.spec.validations[0].message).toMatch(/workloadPods\.enabled=true/);
  });

  it('when enabled: a Pod Security-labelled namespace, a Role there for the operator alone, its flags, and an authorizer check on the requester', async () => {
    const objects = await render({ workloadPods: { enabled: true, podSecurity: 'restricted', maxResources: { cpu: '4', memory: '8Gi' } } });
    const namespace = one(objects, 'Namespace');
    expect(namespace.metadata.name).toBe('ksleuth-system-workloads');
    expect(namespace.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted' });
    const role = one(objects, 'Role', '-operator-workload-pods') as unknown as { metadata: { namespace: string }; rules: unknown };
    expect(role.metadata.namespace).toBe('ksleuth-system-workloads');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'create', 'delete'] },
      { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
    ]);
    const binding = one(objects, 'RoleBinding', '-operator-workload-pods') as unknown as { metadata: { namespace: string }; subjects: unknown };
    expect(binding.metadata.namespace).toBe('ksleuth-system-workloads');
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'ksleuth-operator', namespace: 'ksleuth-system' }]);
    // No cluster-wide right to Pods for the operator.
    const clusterRole = one(objects, 'ClusterRole', '-operator') as unknown as { rules: { resources: string[] }[] };
    expect(clusterRole.rules.some((r) => r.resources.includes('pods'))).toBe(false);
    const args: string[] = one(objects, 'Deployment').spec.template.spec.containers[0].args;
    expect(args).toEqual(
      expect.arrayContaining([
        '--workload-namespace=ksleuth-system-workloads',
        '--workload-default-requests=cpu=100m,memory=64Mi',
        '--workload-default-limits=cpu=1,memory=256Mi',
        '--workload-max-resources=cpu=4,memory=8Gi',
      ]),
    );
    const policy = one(objects, 'ValidatingAdmissionPolicy', '-workload-pods');
    expect(policyVariables(policy).addsPod).toBe('variables.pod.size() > 0 && variables.pod != variables.previousPod');
    expect(policy.spec.validations[0].expression).toContain(
      "authorizer.group('').resource('pods').namespace('ksleuth-system-workloads').check('create').allowed()",
    );
    expect(one(objects, 'ValidatingAdmissionPolicyBinding', '-workload-pods').spec).toEqual({
      policyName: 'ksleuth-workload-pods',
      validationActions: ['Deny'],
    });
  });

  it('takes a namespace of the admin’s own (not created by the chart)', async () => {
    const objects = await render({ workloadPods: { enabled: true, namespace: 'repro', createNamespace: false } });
    expect(objects.some((o) => o.kind === 'Namespace')).toBe(false);
    expect((one(objects, 'Role', '-operator-workload-pods') as unknown as { metadata: { namespace: string } }).metadata.namespace).toBe('repro');
  });

  it('refuses to enable them without the policy that guards them, or with a policy that only warns', async () => {
    await expect(render({ workloadPods: { enabled: true }, admissionPolicies: { enabled: false } })).rejects.toThrow(
      /workloadPods\.enabled needs admissionPolicies\.enabled=true with Deny/,
    );
    await expect(render({ workloadPods: { enabled: true }, admissionPolicies: { validationActions: ['Warn', 'Audit'] } })).rejects.toThrow(
      /workloadPods\.enabled needs admissionPolicies\.enabled=true with Deny/,
    );
    await expect(render({ workloadPods: { enabled: true, podSecurity: 'lax' } })).rejects.toThrow(/at '\/workloadPods\/podSecurity'/);
  });
});
