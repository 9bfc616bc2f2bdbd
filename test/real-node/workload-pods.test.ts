import { beforeAll, describe, expect, it } from 'vitest';
import type { KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { core, ksleuth } from '../../lib/kube/resources.js';
import { until } from '../chart/chart.js';
import { chartPods, type Pod, useKsleuthRelease } from '../helpers/real-node.js';

// Pod workloads run for real: the chart with workloadPods.enabled, the operator creating the Pods
// in the workloads namespace, the real kubelet running them (and stopping one at the end of the
// window), their exit codes and output read back through the API server.
const release = useKsleuthRelease({ values: ['workloadPods.enabled=true'] });
const workloads = 'ksleuth-system-workloads';

async function investigation(name: string): Promise<KernelInvestigation> {
  return release().cluster.client().get<KernelInvestigation>(ksleuth('KernelInvestigation'), name);
}

/** An investigation of the real node whose workload is one container of the agent image (it has a shell). */
async function runWorkload(name: string, durationSeconds: number, script: string, image: string): Promise<void> {
  const { cluster, node } = release();
  await cluster.kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'ksleuth.io/v1alpha1',
      kind: 'KernelInvestigation',
      metadata: { name },
      spec: {
        nodes: { names: [node.name] },
        durationSeconds,
        captures: [{ memory: { intervalSeconds: 1 } }],
        workload: { pod: { template: { spec: { containers: [{ name: 'load', image, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', script] }] } } } },
      },
    }),
  });
}

describe('Pod workloads on the real node', () => {
  beforeAll(async () => {
    const [agent] = await chartPods(release().cluster, 'agent');
    const image = agent!.spec.containers[0]!.image;
    // The runtime reads stdout and stderr through separate pipes and logs whichever it reads first:
    // the pause puts the stderr line after the others in the log.
    await runWorkload('wl-exits', 8, 'for i in $(seq 1 30); do echo "line $i"; done; sleep 1; echo "on stderr" >&2; exit 7', image);
    await runWorkload('wl-loops', 4, 'echo started; while true; do sleep 1; done', image);
    await until(
      'both investigations to finish',
      async () =>
        (await Promise.all(['wl-exits', 'wl-loops'].map(investigation))).every((i) => i.status?.phase === 'Completed' || i.status?.phase === 'Failed'),
      240_000,
    );
  }, 300_000);

  it('records a Pod’s exit code and its last 20 lines of output, stderr included', async () => {
    const inv = await investigation('wl-exits');
    expect(inv.status?.phase, JSON.stringify(inv.status?.conditions)).toBe('Completed');
    expect(inv.status?.workloadPods).toMatchObject({ namespace: workloads, failed: 1, succeeded: 0, running: 0, pending: 0 });
    const [pod] = inv.status!.workloadPods!.pods;
    expect(pod).toMatchObject({ node: release().node.name, pod: `wl-exits-${release().node.name}`, state: 'Failed', exitCode: 7, reason: 'Error' });
    expect(pod!.lastLines).toEqual([...Array.from({ length: 19 }, (_, i) => `line ${i + 12}`), 'on stderr']);
  });

  it('stops a Pod still running at the end of the window (activeDeadlineSeconds) and says so', async () => {
    const inv = await investigation('wl-loops');
    expect(inv.status?.phase, JSON.stringify(inv.status?.conditions)).toBe('Completed');
    expect(inv.status?.workloadPods).toMatchObject({ deadlineExceeded: 1, running: 0 });
    const [pod] = inv.status!.workloadPods!.pods;
    expect(pod).toMatchObject({ state: 'DeadlineExceeded', reason: 'DeadlineExceeded' });
    expect(pod!.lastLines).toEqual(['started']);
  });

  it('removes the Pods once the investigations finished', async () => {
    await until('the workload Pods to be gone', async () => (await release().cluster.client().list<Pod>(core.pods(workloads))).items.length === 0, 120_000);
  });
});
