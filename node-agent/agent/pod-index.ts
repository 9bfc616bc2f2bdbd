import type { V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import type { KubeObject, ResourceRef } from '../../lib/kube/client.js';
import type { Informer, InformerHandlers } from '../../runtime/informer.js';
import type { Manager } from '../../runtime/manager.js';
import type { PodEntry } from '../engine/workload.js';

/** Pods in every namespace (the list a field selector narrows to this node's). */
const allPods: ResourceRef = { group: '', version: 'v1', plural: 'pods' };

/** What the index keeps of a pod: names, owner, container IDs, and what net.* mitigations need. The rest is dropped. */
export interface IndexedPod extends KubeObject {
  entry: PodEntry;
  network: PodNetworkFacts;
}

/** What decides whether a net.* mitigation reaches a pod's own network namespace (node-agent/agent/pod-netns-targets.ts). */
export interface PodNetworkFacts {
  phase?: string;
  hostNetwork: boolean;
  /** The pod has an IP: its sandbox, and with it its network namespace, exists. */
  sandbox: boolean;
  terminating: boolean;
  labels: Record<string, string>;
  /** securityContext.sysctls, by name. */
  sysctls: Record<string, string>;
}

/**
 * The workload a pod belongs to, from its controller owner reference. A ReplicaSet made by a
 * Deployment is named "<deployment>-<pod-template-hash>" and its pods carry that hash as a label,
 * so the Deployment's name is read from there without reading ReplicaSets (no RBAC for them).
 */
export function podOwner(pod: V1Pod): string | undefined {
  const owner = pod.metadata?.ownerReferences?.find((ref: V1OwnerReference) => ref.controller);
  if (!owner) return undefined;
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && owner.apiVersion === 'apps/v1' && hash && owner.name.endsWith(`-${hash}`))
    return `Deployment/${owner.name.slice(0, -hash.length - 1)}`;
  return `${owner.kind}/${owner.name}`;
}

/** "containerd://<id>" → id; a status without an ID (not started yet) gives nothing. */
function containerIds(statuses: { name: string; containerID?: string }[] | undefined): [string, string][] {
  return (statuses ?? []).flatMap((s) => {
    const id = s.containerID?.replace(/^[a-z0-9-]+:\/\//, '');
    return id ? [[id, s.name] as [string, string]] : [];
  });
}

/** Projects a pod to what the index needs; applied by the informer before it stores the pod. */
export function indexPod(pod: V1Pod): IndexedPod {
  const owner = podOwner(pod);
  const status = pod.status;
  return {
    metadata: { name: pod.metadata?.name, namespace: pod.metadata?.namespace, uid: pod.metadata?.uid, resourceVersion: pod.metadata?.resourceVersion },
    entry: {
      uid: pod.metadata?.uid ?? '',
      namespace: pod.metadata?.namespace ?? '',
      name: pod.metadata?.name ?? '',
      ...(owner ? { owner } : {}),
      containers: Object.fromEntries([
        ...containerIds(status?.initContainerStatuses),
        ...containerIds(status?.containerStatuses),
        ...containerIds(status?.ephemeralContainerStatuses),
      ]),
    },
    network: {
      ...(status?.phase ? { phase: status.phase } : {}),
      hostNetwork: pod.spec?.hostNetwork === true,
      sandbox: Boolean(status?.podIP),
      terminating: Boolean(pod.metadata?.deletionTimestamp),
      labels: pod.metadata?.labels ?? {},
      sysctls: Object.fromEntries((pod.spec?.securityContext?.sysctls ?? []).map((s) => [s.name, s.value])),
    },
  };
}

/**
 * The pods of this node, watched through the API server with the field selector
 * spec.nodeName=<node> (RBAC: get, list, watch pods; the chart's agent ClusterRole). It names the
 * pods and containers that processes found in captures belong to.
 */
export class PodIndex {
  private constructor(private readonly informer: Informer<IndexedPod>) {}

  /** Registers the informer with the manager; it starts with the manager. */
  static register(manager: Manager, nodeName: string): PodIndex {
    const informer = manager.informer<IndexedPod>({
      resource: allPods,
      fieldSelector: `spec.nodeName=${nodeName}`,
      name: 'pods',
      transform: (pod) => indexPod(pod as unknown as V1Pod),
    });
    return new PodIndex(informer);
  }

  get size(): number {
    return this.informer.store.size;
  }

  /** Every pod the index holds, with its network facts. */
  pods(): IndexedPod[] {
    return this.informer.store.list();
  }

  /** Calls handlers on each pod added, changed or deleted. */
  addHandlers(handlers: InformerHandlers<IndexedPod>): () => void {
    return this.informer.addHandlers(handlers);
  }

  /** Every pod the index holds, as plain data for a capture run. */
  entries(): PodEntry[] {
    return this.informer.store.list().map((pod) => pod.entry);
  }
}
