import {
  maxListedWorkloadPods,
  workloadPodLastLines,
  type WorkloadPodOutcome,
  type WorkloadPodState,
  type WorkloadPodsStatus,
} from '../../api/v1alpha1/workload-pod.js';
import type { KubeObject } from '../../lib/kube/client.js';
import { projectMetadata, type ProjectedMetadata } from '../../runtime/projection.js';

interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: { exitCode: number; reason?: string; message?: string; finishedAt?: string };
}

export interface CachedContainerStatus {
  name: string;
  state?: ContainerState;
}

/** A workload Pod as the operator caches it: what says how it is doing, nothing of its spec but the node. */
export interface CachedWorkloadPod extends KubeObject {
  metadata: ProjectedMetadata<'labels' | 'annotations'>;
  spec: { nodeName?: string; containers: { name: string }[] };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: CachedContainerStatus[];
    initContainerStatuses?: CachedContainerStatus[];
  };
}

/** The informer transform for workload Pods. */
export function cachedWorkloadPod(object: KubeObject): CachedWorkloadPod {
  const pod = object as KubeObject & { spec: { nodeName?: string; containers: { name: string }[] }; status?: CachedWorkloadPod['status'] };
  const statuses = (list: CachedContainerStatus[] | undefined) => list?.map((c) => ({ name: c.name, ...(c.state ? { state: c.state } : {}) }));
  const s = pod.status;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: projectMetadata(pod.metadata, ['labels', 'annotations']),
    spec: { ...(pod.spec.nodeName ? { nodeName: pod.spec.nodeName } : {}), containers: pod.spec.containers.map((c) => ({ name: c.name })) },
    ...(s
      ? {
          status: {
            ...(s.phase ? { phase: s.phase } : {}),
            ...(s.reason ? { reason: s.reason } : {}),
            ...(s.message ? { message: s.message } : {}),
            ...(s.conditions ? { conditions: s.conditions.map(({ type, status, reason, message }) => ({ type, status, reason, message })) } : {}),
            ...(s.containerStatuses ? { containerStatuses: statuses(s.containerStatuses) } : {}),
            ...(s.initContainerStatuses ? { initContainerStatuses: statuses(s.initContainerStatuses) } : {}),
          },
        }
      : {}),
  };
}

function cut(text: string | undefined, max: number): string | undefined {
  return text === undefined ? undefined : text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A CamelCase reason as the API takes it, or none. */
function reasonText(reason: string | undefined): string | undefined {
  return reason && /^[A-Za-z][A-Za-z0-9]*$/.test(reason) ? reason.slice(0, 128) : undefined;
}

/** The container whose end tells how the Pod ended: the first that exited non-zero, else the last to end. */
export function tellingContainer(
  pod: CachedWorkloadPod,
): (CachedContainerStatus & { state: { terminated: NonNullable<ContainerState['terminated']> } }) | undefined {
  const ended = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].filter(
    (c): c is CachedContainerStatus & { state: { terminated: NonNullable<ContainerState['terminated']> } } => c.state?.terminated !== undefined,
  );
  return (
    ended.find((c) => c.state.terminated.exitCode !== 0) ??
    ended.sort((a, b) => (a.state.terminated.finishedAt ?? '').localeCompare(b.state.terminated.finishedAt ?? '')).at(-1)
  );
}

/** Whether the Pod has ended (the kubelet will not run it again: restartPolicy Never). */
export function hasEnded(pod: CachedWorkloadPod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** How a workload Pod is doing or how it ended, from its status alone (its output is added by the caller). */
export function outcomeOf(node: string, podName: string, pod: CachedWorkloadPod | undefined, createError?: string): WorkloadPodOutcome {
  if (!pod) {
    return createError
      ? { node, pod: podName, state: 'Failed', reason: 'CreateFailed', message: cut(createError, 1024)! }
      : { node, pod: podName, state: 'Missing', message: 'no Pod: not created yet, or deleted by someone else' };
  }
  const status = pod.status ?? {};
  const container = tellingContainer(pod);
  const ended = container?.state.terminated;
  const base = { node, pod: podName, ...(ended ? { exitCode: ended.exitCode } : {}) };
  const withText = (state: WorkloadPodState, reason: string | undefined, message: string | undefined): WorkloadPodOutcome => ({
    ...base,
    state,
    ...(reasonText(reason) ? { reason: reasonText(reason) } : {}),
    ...(message ? { message: cut(message, 1024) } : {}),
  });
  switch (status.phase) {
    case 'Succeeded':
      return withText('Succeeded', ended?.reason, ended?.message);
    case 'Failed':
      // The kubelet stops a Pod at activeDeadlineSeconds, the end of the capture window.
      if (status.reason === 'DeadlineExceeded') return withText('DeadlineExceeded', status.reason, status.message);
      return withText('Failed', ended?.reason ?? status.reason, ended?.message ?? status.message);
    case 'Running':
      return withText('Running', undefined, undefined);
    default: {
      const waiting = [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])].find((c) => c.state?.waiting?.reason)?.state?.waiting;
      const unscheduled = status.conditions?.find((c) => c.status === 'False' && c.reason);
      return withText('Pending', waiting?.reason ?? status.reason ?? unscheduled?.reason, waiting?.message ?? status.message ?? unscheduled?.message);
    }
  }
}

/** The last lines of a Pod's output, within the status limits: at most 20 lines and 4 KiB, the newest kept. */
export function lastLines(output: string): string[] {
  const lines = output
    .replace(/\r?\n$/, '')
    .split(/\r?\n/)
    .slice(-workloadPodLastLines.lines);
  const kept: string[] = [];
  let bytes = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    let line = lines[i]!;
    const room = workloadPodLastLines.bytes - bytes;
    if (room <= 0) break;
    if (Buffer.byteLength(line) > room)
      line = Buffer.from(line)
        .subarray(Buffer.byteLength(line) - room)
        .toString('utf8')
        .replace(/^\uFFFD+/, '');
    kept.unshift(line);
    bytes += Buffer.byteLength(line) + 1;
  }
  return output === '' ? [] : kept;
}

const listOrder: Record<WorkloadPodState, number> = { Failed: 0, Pending: 1, Missing: 2, DeadlineExceeded: 3, Running: 4, Succeeded: 5 };

/** Counts over every target node, and the outcomes worth reading first (failed ones) by name. */
export function summarizeOutcomes(namespace: string, outcomes: WorkloadPodOutcome[]): WorkloadPodsStatus {
  const count = (state: WorkloadPodState) => outcomes.filter((o) => o.state === state).length;
  const pods = [...outcomes].sort((a, b) => listOrder[a.state] - listOrder[b.state] || a.node.localeCompare(b.node)).slice(0, maxListedWorkloadPods);
  return {
    namespace,
    pending: count('Pending'),
    running: count('Running'),
    succeeded: count('Succeeded'),
    failed: count('Failed'),
    deadlineExceeded: count('DeadlineExceeded'),
    missing: count('Missing'),
    pods,
  };
}
