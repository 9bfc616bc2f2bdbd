import { describe, expect, it } from 'vitest';
import type { KernelCapture, KernelInvestigation } from '../../api/v1alpha1/resources.js';
import type { KubeObject } from '../../lib/kube/client.js';
import { isNotFound } from '../../lib/kube/errors.js';
import { core, ksleuth } from '../../lib/kube/resources.js';
import { useKsleuth } from '../helpers/ksleuth.js';

// Pod workloads on simulated nodes: the operator's logic against a real API server (RBAC, the
// chart's Role and admission policy). kwok starts the Pods; where a kubelet would end them, the
// test writes their status as the kubelet does. test/real-node/workload-pods.test.ts runs them.
const namespace = 'ksleuth-system-workloads';
const system = useKsleuth({
  agents: 2,
  chartTemplates: { templates: ['templates/workload-pods.yaml', 'templates/admission/workload-pods.yaml'], values: ['workloadPods.enabled=true'] },
  operatorArgs: [
    `--workload-namespace=${namespace}`,
    '--workload-default-requests=cpu=100m,memory=64Mi',
    '--workload-default-limits=cpu=1,memory=256Mi',
    '--workload-max-resources=cpu=2,memory=1Gi',
  ],
});

type Pod = KubeObject & { spec: Record<string, any>; status?: Record<string, any> };
const pods = core.pods(namespace);
const investigations = ksleuth('KernelInvestigation');

async function apply(name: string, spec: string, as?: string): Promise<void> {
  await system().cluster.kubectl(['apply', '-f', '-', ...(as ? ['--as', as] : [])], {
    input: `apiVersion: ksleuth.io/v1alpha1\nkind: KernelInvestigation\nmetadata: {name: ${name}}\nspec:\n${spec}`,
  });
}

async function podsOf(investigation: string): Promise<Pod[]> {
  return (await system().client.list<Pod>(pods, { labelSelector: `ksleuth.io/investigation=${investigation}` })).items;
}

const get = (name: string) => system().client.get<KernelInvestigation>(investigations, name);

/** What the kubelet writes when a Pod's containers have ended. */
function ended(pod: Pod, exitCode: number) {
  return {
    status: {
      phase: exitCode === 0 ? 'Succeeded' : 'Failed',
      containerStatuses: [
        {
          name: 'stress',
          image: pod.spec.containers[0].image,
          imageID: '',
          ready: false,
          restartCount: 0,
          state: {
            terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: new Date().toISOString(), finishedAt: new Date().toISOString() },
          },
        },
      ],
    },
  };
}

describe('Pod workloads (spec.workload.pod)', () => {
  it('runs one Pod per target node, pinned and bounded, waits for them, records how each ended, then removes them', async () => {
    await apply(
      'podwl',
      `  nodes: {names: [node-1, node-2]}
  durationSeconds: 3
  deadlineSeconds: 120
  captures: [{memory: {intervalSeconds: 1}}]
  workload:
    pod:
      template:
        metadata: {labels: {app: stress}}
        spec:
          containers:
          - name: stress
            image: busybox:stable
            command: [sh, -c, 'echo start; yes > /dev/null']
`,
    );
    await system().waitFor('a workload Pod on each node, started by kwok', async () => {
      const found = await podsOf('podwl');
      return found.length === 2 && found.every((p) => p.status?.podIP !== undefined);
    });
    const created = (await podsOf('podwl')).sort((a, b) => a.spec.nodeName.localeCompare(b.spec.nodeName));
    const inv = await get('podwl');
    for (const [i, pod] of created.entries()) {
      expect(pod.metadata.name).toBe(`podwl-node-${i + 1}`);
      expect(pod.metadata.labels).toMatchObject({ app: 'stress', 'ksleuth.io/investigation-uid': inv.metadata.uid, 'app.kubernetes.io/managed-by': 'ksleuth' });
      expect(pod.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'KernelInvestigation', name: 'podwl', uid: inv.metadata.uid })]);
      expect(pod.spec).toMatchObject({ nodeName: `node-${i + 1}`, restartPolicy: 'Never', activeDeadlineSeconds: 3, automountServiceAccountToken: false });
      expect(pod.spec.containers[0].resources).toEqual({ requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } });
    }
    // The agents get the captures only: a Pod is not theirs to run.
    const captures = (await system().client.list<KernelCapture>(ksleuth('KernelCapture'))).items.filter((c) => c.spec.investigation === 'podwl');
    expect(captures.map((c) => c.spec.workload)).toEqual([undefined, undefined]);

    // The captures end after 3 s; the investigation waits for the Pods, whose containers end now.
    await system().waitFor('the captures to finish', async () => (await get('podwl')).status?.captures?.succeeded === 2);
    expect((await get('podwl')).status?.phase).toBe('Running');
    expect((await get('podwl')).status?.workloadPods).toMatchObject({ namespace, running: 2 });
    await system().client.patch(pods, created[0]!.metadata.name!, ended(created[0]!, 0), { subresource: 'status' });
    await system().client.patch(pods, created[1]!.metadata.name!, ended(created[1]!, 3), { subresource: 'status' });

    await system().waitFor('the investigation to complete', async () => (await get('podwl')).status?.phase === 'Completed');
    const status = (await get('podwl')).status!;
    expect(status.workloadPods).toMatchObject({ namespace, succeeded: 1, failed: 1, running: 0, pending: 0, missing: 0, deadlineExceeded: 0 });
    expect(status.workloadPods!.pods.map(({ node, state, exitCode, reason }) => ({ node, state, exitCode, reason }))).toEqual([
      { node: 'node-2', state: 'Failed', exitCode: 3, reason: 'Error' },
      { node: 'node-1', state: 'Succeeded', exitCode: 0, reason: 'Completed' },
    ]);
    await system().waitFor('the workload Pods to be removed', async () => (await podsOf('podwl')).length === 0);
  }, 300_000);

  it('removes the Pods when the investigation is deleted while they run', async () => {
    await apply(
      'podwl-deleted',
      `  nodes: {names: [node-1]}
  durationSeconds: 600
  captures: [{memory: {intervalSeconds: 5}}]
  workload: {pod: {template: {spec: {containers: [{name: stress, image: busybox:stable}]}}}}
`,
    );
    await system().waitFor('the workload Pod', async () => (await podsOf('podwl-deleted')).length === 1);
    await system().client.delete(investigations, 'podwl-deleted');
    await system().waitFor('the workload Pod to be removed', async () => (await podsOf('podwl-deleted')).length === 0);
    await expect(
      get('podwl-deleted').then(
        () => 'found',
        (e: unknown) => (isNotFound(e) ? 'gone' : e),
      ),
    ).resolves.toBe('gone');
  }, 120_000);

  it('fails an investigation whose template asks for more than the cap, naming the field', async () => {
    await apply(
      'podwl-greedy',
      `  nodes: {names: [node-1]}
  durationSeconds: 5
  captures: [{memory: {}}]
  workload: {pod: {template: {spec: {containers: [{name: stress, image: busybox:stable, resources: {limits: {memory: 4Gi}}}]}}}}
`,
    );
    await system().waitFor('the investigation to fail', async () => (await get('podwl-greedy')).status?.phase === 'Failed');
    const failed = (await get('podwl-greedy')).status!.conditions!.find((c) => c.type === 'Failed')!;
    expect(failed.reason).toBe('InvalidWorkloadPod');
    expect(failed.message).toBe(
      "spec.workload.pod.template.spec.containers[0].resources.limits.memory: 4Gi is more than this cluster allows a workload Pod (1Gi, the chart's workloadPods.maxResources.memory); ask for less",
    );
    expect(await podsOf('podwl-greedy')).toEqual([]);
  }, 120_000);

  it('lets only a requester who may create Pods in the workloads namespace ask for a Pod workload', async () => {
    const { cluster, client } = system();
    await cluster.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: investigator}
rules: [{apiGroups: [ksleuth.io], resources: [kernelinvestigations], verbs: [get, create, update, patch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: alice-investigator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: investigator}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
`,
    });
    const spec = `  nodes: {names: [node-1]}
  durationSeconds: 2
  captures: [{memory: {}}]
  workload: {pod: {template: {spec: {containers: [{name: stress, image: busybox:stable}]}}}}
`;
    const refused = await apply('podwl-alice', spec, 'alice').then(
      () => undefined,
      (error: Error) => error.message,
    );
    expect(refused).toContain('ValidatingAdmissionPolicy');
    expect(refused).toContain(`alice may not run a Pod workload (spec.workload.pod): the operator would create Pods for it in namespace ${namespace}`);
    // A built-in reproducer needs no more than the right to create investigations.
    await apply('podwl-alice-builtin', spec.replace(/ {2}workload: .*\n/, '  workload: {socketLeak: {connections: 1}}\n'), 'alice');

    await cluster.kubectl(['create', 'role', 'pod-creator', '-n', namespace, '--verb=create', '--resource=pods']);
    await cluster.kubectl(['create', 'rolebinding', 'alice-pod-creator', '-n', namespace, '--role=pod-creator', '--user=alice']);
    await system().waitFor('alice to be allowed', async () => {
      const review = await client.request<{ status: { allowed: boolean } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: { user: 'alice', resourceAttributes: { namespace, verb: 'create', resource: 'pods' } },
        },
      });
      return review.status.allowed;
    });
    await apply('podwl-alice', spec, 'alice');
    expect((await get('podwl-alice')).spec.workload?.pod).toBeDefined();
  }, 120_000);
});
