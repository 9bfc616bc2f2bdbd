import { readFileSync } from 'node:fs';
import type { FindingPod } from '../../api/v1alpha1/finding.js';
import { type PodCgroup, parseProcCgroup, podOfCgroupPath, podOfProcess } from './cgroup.js';

/**
 * One pod of this node as findings name it: what the agent's pod index (node-agent/agent/pod-index.ts)
 * knows, passed to the capture worker with each run. Plain data: it crosses a process boundary.
 */
export interface PodEntry {
  uid: string;
  namespace: string;
  name: string;
  /** The workload that owns the pod, "Deployment/web", where the owner references tell it. */
  owner?: string;
  /** Container names by container ID (the ID without the "<runtime>://" prefix), init and ephemeral containers too. */
  containers: Record<string, string>;
}

/** Where a process runs: on the host, or in a pod (named when the pod index knows it). */
export type Workload =
  | { host: true }
  | { host: false; podUid: string; namespace?: string; pod?: string; owner?: string; container?: string; containerId?: string };

/** "host", "pod shop/web-1 container nginx (Deployment/web)", or "pod <uid>" for a pod the API server did not list. */
export function workloadText(workload: Workload): string {
  if (workload.host) return 'host';
  const pod = workload.pod ? `pod ${workload.namespace}/${workload.pod}` : `pod ${workload.podUid}`;
  const container = workload.container
    ? ` container ${workload.container}`
    : workload.containerId
      ? ` container ${workload.containerId.slice(0, 12)} (sandbox or exited)`
      : '';
  return `${pod}${container}${workload.owner ? ` (${workload.owner})` : ''}`;
}

/** The pod alone, for what its containers share (a network namespace): "pod shop/web-1 (Deployment/web)", or "host". */
export function podText(workload: Workload): string {
  if (workload.host) return 'host';
  return `${workload.pod ? `pod ${workload.namespace}/${workload.pod}` : `pod ${workload.podUid}`}${workload.owner ? ` (${workload.owner})` : ''}`;
}

/** The pods (named ones, once each, at most 20) among workloads, for a finding's `pods`; undefined when none. */
export function findingPods(workloads: Iterable<Workload | undefined>): { pods?: FindingPod[] } {
  const pods = new Map<string, FindingPod>();
  for (const w of workloads) {
    if (!w || w.host || !w.pod || !w.namespace || pods.size >= 20) continue;
    pods.set(`${w.namespace}/${w.pod}`, { namespace: w.namespace, name: w.pod, ...(w.owner ? { owner: w.owner } : {}) });
  }
  return pods.size > 0 ? { pods: [...pods.values()] } : {};
}

/** Finds the pod and container of processes from their /proc/<pid>/cgroup and the pods the index listed. */
export class WorkloadResolver {
  private readonly byUid: Map<string, PodEntry>;

  constructor(
    pods: readonly PodEntry[] = [],
    private readonly procRoot = '/proc',
  ) {
    this.byUid = new Map(pods.map((pod) => [pod.uid, pod]));
  }

  /** The workload of a process; undefined when its cgroup file cannot be read (it exited). */
  ofPid(pid: number): Workload | undefined {
    let text: string;
    try {
      text = readFileSync(`${this.procRoot}/${pid}/cgroup`, 'utf8');
    } catch {
      return undefined;
    }
    return this.ofCgroupText(text);
  }

  /** The workload of a /proc/<pid>/cgroup text; a text that is not one counts as the host's. */
  ofCgroupText(text: string): Workload {
    let cgroup: PodCgroup | undefined;
    try {
      cgroup = podOfProcess(parseProcCgroup(text));
    } catch {
      return { host: true };
    }
    return this.named(cgroup);
  }

  /** The workload of one cgroup path, such as an OOM kill's task_memcg. */
  ofCgroupPath(path: string): Workload {
    return this.named(podOfCgroupPath(path));
  }

  private named(cgroup: PodCgroup | undefined): Workload {
    if (!cgroup) return { host: true };
    const pod = this.byUid.get(cgroup.podUid);
    const container = cgroup.containerId ? pod?.containers[cgroup.containerId] : undefined;
    return {
      host: false,
      podUid: cgroup.podUid,
      ...(pod ? { namespace: pod.namespace, pod: pod.name } : {}),
      ...(pod?.owner ? { owner: pod.owner } : {}),
      ...(container ? { container } : cgroup.containerId ? { containerId: cgroup.containerId } : {}),
    };
  }
}
