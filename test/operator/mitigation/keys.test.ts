import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelMitigation, KernelNode } from '../../../api/v1alpha1/resources.js';
import { formatTime } from '../../../lib/conditions.js';
import { core, ksleuth } from '../../../lib/kube/resources.js';
import { loadAllowList } from '../../../lib/sysctl/allowlist-load.js';
import { createOperator } from '../../../operator/operator.js';
import type { Manager } from '../../../runtime/manager.js';
import { useCluster } from '../../helpers/cluster.js';

const cluster = useCluster({ controllerManager: false, kwok: false });
const nodes = ['node-a', 'node-b', 'node-c'];
let operator: Manager | undefined;

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

beforeAll(async () => {
  const client = cluster().client();
  for (const name of nodes) {
    await client.create(core.nodes, { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { pool: 'db' } } });
    await client.create(ksleuth('KernelNode'), { apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelNode', metadata: { name }, spec: {} });
    await client.patch(ksleuth('KernelNode'), name, { status: { heartbeatTime: formatTime(new Date()), kernelVersion: '6.1.0' } }, { subresource: 'status' });
  }
  // node-a's KernelNode refuses every update: the operator's write to it fails, again and again.
  await cluster().kubectl(['apply', '-f', '-'], {
    input: `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: node-a-read-only}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [{apiGroups: [ksleuth.io], apiVersions: ["*"], operations: [UPDATE], resources: [kernelnodes]}]
  validations:
    - expression: "object.metadata.name != 'node-a'"
      message: node-a is read-only in this test
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: node-a-read-only}
spec: {policyName: node-a-read-only, validationActions: [Deny]}
`,
  });
  await until('the policy to refuse writes to node-a', async () =>
    client.patch(ksleuth('KernelNode'), 'node-a', { metadata: { labels: { probe: String(Date.now()) } } }).then(
      () => false,
      (error: Error) => /read-only in this test/.test(error.message),
    ),
  );
  operator = createOperator({ client, allowList: await loadAllowList(), allowCustomPrograms: false, healthPort: false, log: pino({ level: 'silent' }) });
  await operator.start();
});

afterAll(async () => {
  await operator?.stop();
});

describe('the mitigation controller, keyed per node and per mitigation', () => {
  it('writes every other node and the mitigation’s status while one node’s write keeps failing', async () => {
    const client = cluster().client();
    await client.create(ksleuth('KernelMitigation'), {
      apiVersion: 'ksleuth.io/v1alpha1',
      kind: 'KernelMitigation',
      metadata: { name: 'swappiness' },
      spec: { sysctls: [{ name: 'vm.swappiness', value: '10' }], nodeSelector: { matchLabels: { pool: 'db' } } },
    });
    const desired = async (node: string): Promise<string[]> =>
      ((await client.get<KernelNode>(ksleuth('KernelNode'), node)).spec.sysctls ?? []).map((s) => `${s.name}=${s.value}`);
    await until(
      'node-b and node-c to be asked for vm.swappiness=10',
      async () => (await desired('node-b')).includes('vm.swappiness=10') && (await desired('node-c')).includes('vm.swappiness=10'),
    );
    await until(
      'the mitigation to report its nodes',
      async () => (await client.get<KernelMitigation>(ksleuth('KernelMitigation'), 'swappiness')).status?.nodes !== undefined,
    );
    const status = (await client.get<KernelMitigation>(ksleuth('KernelMitigation'), 'swappiness')).status!;
    expect(status.nodes).toMatchObject({ matched: 3 });
    expect(await desired('node-a')).toEqual([]);
  });

  it('rolls out one node at a time: a node reporting Applied frees the slot and the next node is asked', async () => {
    const client = cluster().client();
    const web = ['web-x', 'web-y'];
    for (const name of web) {
      await client.create(core.nodes, { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { pool: 'web' } } });
      await client.create(ksleuth('KernelNode'), { apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelNode', metadata: { name }, spec: {} });
      await client.patch(ksleuth('KernelNode'), name, { status: { heartbeatTime: formatTime(new Date()), kernelVersion: '6.1.0' } }, { subresource: 'status' });
    }
    await client.create(ksleuth('KernelMitigation'), {
      apiVersion: 'ksleuth.io/v1alpha1',
      kind: 'KernelMitigation',
      metadata: { name: 'web-dirty-ratio' },
      spec: { sysctls: [{ name: 'vm.dirty_ratio', value: '15' }], nodeSelector: { matchLabels: { pool: 'web' } }, rollout: { maxConcurrentNodes: 1 } },
    });
    const desired = async (node: string): Promise<string[]> =>
      ((await client.get<KernelNode>(ksleuth('KernelNode'), node)).spec.sysctls ?? []).map((s) => `${s.name}=${s.value}`);
    await until('web-x to be asked for vm.dirty_ratio=15', async () => (await desired('web-x')).includes('vm.dirty_ratio=15'));
    // The slot is web-x's until it reports the value held.
    await sleep(1000);
    expect(await desired('web-y')).toEqual([]);
    await client.patch(
      ksleuth('KernelNode'),
      'web-x',
      {
        status: {
          heartbeatTime: formatTime(new Date()),
          sysctls: [{ name: 'vm.dirty_ratio', mitigation: 'web-dirty-ratio', desired: '15', original: '20', state: 'Applied' }],
        },
      },
      { subresource: 'status' },
    );
    await until('web-y to be asked for vm.dirty_ratio=15', async () => (await desired('web-y')).includes('vm.dirty_ratio=15'));
  });
});
