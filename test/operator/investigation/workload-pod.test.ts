import { describe, expect, it } from 'vitest';
import type { KernelInvestigation } from '../../../api/v1alpha1/resources.js';
import { investigationSpec } from '../../../api/v1alpha1/investigation.js';
import { reproducerOf } from '../../../api/v1alpha1/workloads.js';
import { lastLines, outcomeOf, summarizeOutcomes, type CachedWorkloadPod } from '../../../operator/investigation/workload-pod-outcome.js';
import { buildWorkloadPod, parseResourceList, WorkloadPodSpecError, type WorkloadPodPolicy } from '../../../operator/investigation/workload-pod-spec.js';

const policy: WorkloadPodPolicy = {
  namespace: 'ksleuth-system-workloads',
  defaultRequests: { cpu: '100m', memory: '64Mi' },
  defaultLimits: { cpu: '1', memory: '256Mi' },
  max: { cpu: '2', memory: '1Gi' },
};

function investigation(spec: Record<string, unknown>): KernelInvestigation {
  const parsed = investigationSpec.parse({ nodes: { names: ['worker-1'] }, captures: [{ memory: {} }], durationSeconds: 45, ...spec });
  return { apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelInvestigation', metadata: { name: 'churn', uid: 'uid-1' }, spec: parsed } as KernelInvestigation;
}

const podWorkload = (containers: unknown[], extra: Record<string, unknown> = {}) => ({
  workload: { pod: { template: { metadata: { labels: { app: 'stress' } }, spec: { containers, ...extra } } } },
});

describe('the workload Pod built from a template', () => {
  it('is pinned to the node, ended with the window, never restarted, tied to its investigation and bounded by defaults', () => {
    const inv = investigation(podWorkload([{ name: 'stress', image: 'busybox', command: ['sh', '-c', 'yes > /dev/null'] }]));
    const pod = buildWorkloadPod(inv, 'worker-1', inv.spec.workload!.pod!, policy) as { metadata: Record<string, any>; spec: Record<string, any> };
    expect(pod.metadata).toMatchObject({
      name: 'churn-worker-1',
      namespace: 'ksleuth-system-workloads',
      labels: { app: 'stress', 'ksleuth.io/investigation': 'churn', 'ksleuth.io/investigation-uid': 'uid-1', 'app.kubernetes.io/component': 'workload' },
      annotations: { 'ksleuth.io/investigation': 'churn' },
      ownerReferences: [{ kind: 'KernelInvestigation', name: 'churn', uid: 'uid-1', blockOwnerDeletion: false }],
    });
    expect(pod.spec).toMatchObject({ nodeName: 'worker-1', restartPolicy: 'Never', activeDeadlineSeconds: 45, automountServiceAccountToken: false });
    expect(pod.spec.containers[0]).toEqual({
      name: 'stress',
      image: 'busybox',
      command: ['sh', '-c', 'yes > /dev/null'],
      resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } },
    });
  });

  it('keeps a limit the container sets as its request (as Kubernetes does) and a default request never above the limit', () => {
    const inv = investigation(
      podWorkload([
        { name: 'a', image: 'busybox', resources: { limits: { memory: '512Mi' } } },
        { name: 'b', image: 'busybox', resources: { limits: { cpu: '50m' } } },
      ]),
    );
    const pod = buildWorkloadPod(inv, 'worker-1', inv.spec.workload!.pod!, policy) as unknown as { spec: { containers: { resources: unknown }[] } };
    expect(pod.spec.containers[0]!.resources).toEqual({ requests: { cpu: '100m' }, limits: { memory: '512Mi', cpu: '1' } });
    expect(pod.spec.containers[1]!.resources).toEqual({ requests: { memory: '64Mi' }, limits: { cpu: '50m', memory: '256Mi' } });
  });

  it('refuses more than the cap, naming the field and the chart value', () => {
    const inv = investigation(
      podWorkload([{ name: 'a', image: 'busybox' }], { initContainers: [{ name: 'init', image: 'busybox', resources: { requests: { memory: '2Gi' } } }] }),
    );
    expect(() => buildWorkloadPod(inv, 'worker-1', inv.spec.workload!.pod!, policy)).toThrow(WorkloadPodSpecError);
    expect(() => buildWorkloadPod(inv, 'worker-1', inv.spec.workload!.pod!, policy)).toThrow(
      "spec.workload.pod.template.spec.initContainers[0].resources.requests.memory: 2Gi is more than this cluster allows a workload Pod (1Gi, the chart's workloadPods.maxResources.memory)",
    );
    const bad = investigation(podWorkload([{ name: 'a', image: 'busybox', resources: { limits: { cpu: 'lots' } } }]));
    expect(() => buildWorkloadPod(bad, 'worker-1', bad.spec.workload!.pod!, policy)).toThrow(
      /containers\[0\]\.resources\.limits\.cpu: "lots" is not a quantity/,
    );
  });

  it('is refused by the schema when it sets what the operator owns', () => {
    const result = investigationSpec.safeParse({
      nodes: { names: ['worker-1'] },
      captures: [{ memory: {} }],
      ...podWorkload([{ name: 'a', image: 'busybox' }], { nodeName: 'elsewhere', restartPolicy: 'Always' }),
    });
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['workload.pod.template.spec.nodeName', 'workload.pod.template.spec.restartPolicy']));
    expect(result.error!.issues[0]!.message).toMatch(/^leave (nodeName|restartPolicy) out: the operator pins the Pod/);
  });

  it('is not passed to the agents: a KernelCapture gets only a built-in reproducer', () => {
    expect(reproducerOf(investigation(podWorkload([{ name: 'a', image: 'busybox' }])).spec.workload)).toBeUndefined();
    expect(reproducerOf(investigation({ workload: { tcpChurn: {} } }).spec.workload)).toEqual({ tcpChurn: expect.objectContaining({ concurrency: 8 }) });
  });

  it('takes its policy from flags, refusing a bad one with the flag named', () => {
    expect(parseResourceList('--workload-max-resources', 'cpu=2,memory=1Gi')).toEqual({ cpu: '2', memory: '1Gi' });
    expect(() => parseResourceList('--workload-max-resources', 'gpu=1')).toThrow('--workload-max-resources: "gpu=1" must be cpu=QUANTITY or memory=QUANTITY');
    expect(() => parseResourceList('--workload-default-limits', 'cpu=x')).toThrow(/--workload-default-limits: cpu: "x" is not a quantity/);
  });
});

function pod(status: CachedWorkloadPod['status']): CachedWorkloadPod {
  return { metadata: { name: 'churn-worker-1', uid: 'p1' }, spec: { nodeName: 'worker-1', containers: [{ name: 'main' }] }, status };
}

describe('how a workload Pod ended', () => {
  it('reads the kubelet’s status: success, a failing container, the window’s end, still waiting, gone', () => {
    expect(
      outcomeOf(
        'worker-1',
        'p',
        pod({ phase: 'Succeeded', containerStatuses: [{ name: 'main', state: { terminated: { exitCode: 0, reason: 'Completed' } } }] }),
      ),
    ).toEqual({
      node: 'worker-1',
      pod: 'p',
      state: 'Succeeded',
      exitCode: 0,
      reason: 'Completed',
    });
    expect(
      outcomeOf(
        'worker-1',
        'p',
        pod({
          phase: 'Failed',
          containerStatuses: [
            { name: 'side', state: { terminated: { exitCode: 0, finishedAt: '2026-01-01T00:00:02Z' } } },
            { name: 'main', state: { terminated: { exitCode: 3, reason: 'Error', finishedAt: '2026-01-01T00:00:01Z' } } },
          ],
        }),
      ),
    ).toMatchObject({ state: 'Failed', exitCode: 3, reason: 'Error' });
    expect(
      outcomeOf(
        'worker-1',
        'p',
        pod({
          phase: 'Failed',
          reason: 'DeadlineExceeded',
          message: 'Pod was active on the node longer than the specified deadline',
          containerStatuses: [{ name: 'main', state: { terminated: { exitCode: 137, reason: 'Error' } } }],
        }),
      ),
    ).toEqual({
      node: 'worker-1',
      pod: 'p',
      state: 'DeadlineExceeded',
      exitCode: 137,
      reason: 'DeadlineExceeded',
      message: 'Pod was active on the node longer than the specified deadline',
    });
    expect(
      outcomeOf(
        'worker-1',
        'p',
        pod({ phase: 'Pending', containerStatuses: [{ name: 'main', state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } } }] }),
      ),
    ).toMatchObject({ state: 'Pending', reason: 'ImagePullBackOff', message: 'Back-off pulling image' });
    expect(outcomeOf('worker-1', 'p', pod({ phase: 'Failed', reason: 'OutOfcpu', message: 'Node didn’t have enough resource: cpu' }))).toMatchObject({
      state: 'Failed',
      reason: 'OutOfcpu',
    });
    expect(outcomeOf('worker-1', 'p', undefined)).toMatchObject({ state: 'Missing' });
    expect(outcomeOf('worker-1', 'p', undefined, 'pods "p" is forbidden: violates PodSecurity "baseline:latest": privileged')).toMatchObject({
      state: 'Failed',
      reason: 'CreateFailed',
      message: 'pods "p" is forbidden: violates PodSecurity "baseline:latest": privileged',
    });
  });

  it('keeps the last 20 lines and at most 4 KiB of output, the newest', () => {
    const output = `${Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n')}\n`;
    const lines = lastLines(output);
    expect(lines).toHaveLength(20);
    expect(lines[0]).toBe('line 11');
    expect(lines.at(-1)).toBe('line 30');
    const long = lastLines(`${'a'.repeat(3000)}\n${'b'.repeat(3000)}\n`);
    expect(long.join('\n').length).toBeLessThanOrEqual(4096);
    expect(long.at(-1)).toBe('b'.repeat(3000));
    expect(lastLines('')).toEqual([]);
  });

  it('counts every node and lists failed ones first, at most 16', () => {
    const outcomes = Array.from({ length: 20 }, (_, i) => ({
      node: `n${String(i).padStart(2, '0')}`,
      pod: `p${i}`,
      state: i === 19 ? ('Failed' as const) : ('Succeeded' as const),
    }));
    const status = summarizeOutcomes('ns', outcomes);
    expect(status).toMatchObject({ namespace: 'ns', succeeded: 19, failed: 1, pending: 0, running: 0, deadlineExceeded: 0, missing: 0 });
    expect(status.pods).toHaveLength(16);
    expect(status.pods[0]!.node).toBe('n19');
  });
});
