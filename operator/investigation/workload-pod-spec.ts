import { apiVersion } from '../../api/v1alpha1/common.js';
import type { PodWorkload } from '../../api/v1alpha1/workload-pod.js';
import type { KernelInvestigation } from '../../api/v1alpha1/resources.js';
import type { KubeObject } from '../../lib/kube/client.js';
import { childName, labelValueFor } from '../../lib/names.js';
import { parseQuantity } from '../../lib/quantity.js';
import { labels } from './children.js';

export const resourceNames = ['cpu', 'memory'] as const;
export type ResourceName = (typeof resourceNames)[number];
export type ResourceList = Partial<Record<ResourceName, string>>;

/** Where workload Pods run and what they may use: the chart's workloadPods.* values. */
export interface WorkloadPodPolicy {
  namespace: string;
  /** Given to a container that sets none. */
  defaultRequests: ResourceList;
  defaultLimits: ResourceList;
  /** No container may request or be limited to more. */
  max: ResourceList;
}

/** Labels and annotations that tie a workload Pod to its investigation, besides its owner reference. */
export const workloadPodKeys = {
  investigationUid: 'ksleuth.io/investigation-uid',
  /** The full investigation name (a label value is cut to 63 characters). */
  investigationAnnotation: 'ksleuth.io/investigation',
  component: 'app.kubernetes.io/component',
};

/** "cpu=100m,memory=128Mi" (an operator flag) → a resource list; throws naming the flag. */
export function parseResourceList(flag: string, text: string): ResourceList {
  const out: ResourceList = {};
  for (const pair of text.split(',').filter(Boolean)) {
    const [name, value] = pair.split('=');
    if (!resourceNames.includes(name as ResourceName) || !value) {
      throw new Error(`${flag}: "${pair}" must be cpu=QUANTITY or memory=QUANTITY, as in "cpu=500m,memory=256Mi"`);
    }
    try {
      parseQuantity(value);
    } catch (error) {
      throw new Error(`${flag}: ${name}: ${(error as Error).message}`);
    }
    out[name as ResourceName] = value;
  }
  return out;
}

/** A template that breaks the policy: the message names the field and the fix. */
export class WorkloadPodSpecError extends Error {}

interface Container {
  name: string;
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  [key: string]: unknown;
}

function quantity(field: string, value: string | number): number {
  try {
    return parseQuantity(value);
  } catch (error) {
    throw new WorkloadPodSpecError(`${field}: ${(error as Error).message}`);
  }
}

/**
 * The container with requests and limits for cpu and memory: defaults where it sets none, refused
 * (naming the field) where it asks for more than the policy allows. A container that sets only a
 * limit keeps it as its request, as Kubernetes does.
 */
function bounded(container: Container, field: string, policy: WorkloadPodPolicy): Container {
  const requests: Record<string, string | number> = { ...container.resources?.requests };
  const limits: Record<string, string | number> = { ...container.resources?.limits };
  for (const name of resourceNames) {
    const max = policy.max[name];
    for (const [kind, list] of [
      ['requests', requests],
      ['limits', limits],
    ] as const) {
      const value = list[name];
      if (value !== undefined && max !== undefined && quantity(`${field}.resources.${kind}.${name}`, value) > parseQuantity(max)) {
        throw new WorkloadPodSpecError(
          `${field}.resources.${kind}.${name}: ${value} is more than this cluster allows a workload Pod (${max}, the chart's workloadPods.maxResources.${name}); ask for less`,
        );
      }
    }
    const limitSet = limits[name] !== undefined;
    if (!limitSet && policy.defaultLimits[name] !== undefined) limits[name] = policy.defaultLimits[name]!;
    if (requests[name] === undefined && !limitSet && policy.defaultRequests[name] !== undefined) {
      const request = policy.defaultRequests[name]!;
      const limit = limits[name];
      requests[name] = limit !== undefined && parseQuantity(limit) < parseQuantity(request) ? limit : request;
    }
  }
  return { ...container, resources: { ...container.resources, requests, limits } };
}

/** The workload Pod's name: the same for an investigation and node every time, so a retried create never duplicates. */
export function workloadPodName(investigation: string, node: string): string {
  return childName([investigation, node]);
}

/**
 * The Pod that runs an investigation's workload on one node for the capture window: pinned to the
 * node (no scheduler), ended by the kubelet when the window is over, never restarted, resources
 * bounded, no API token unless the template asks for one. Throws WorkloadPodSpecError.
 */
export function buildWorkloadPod(investigation: KernelInvestigation, node: string, workload: PodWorkload, policy: WorkloadPodPolicy): KubeObject {
  const name = investigation.metadata.name!;
  const { template } = workload;
  const spec = template.spec as Record<string, unknown> & { containers: Container[]; initContainers?: Container[] };
  const field = 'spec.workload.pod.template.spec';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: workloadPodName(name, node),
      namespace: policy.namespace,
      labels: {
        ...template.metadata?.labels,
        [labels.investigation]: labelValueFor(name),
        [labels.node]: labelValueFor(node),
        [workloadPodKeys.investigationUid]: investigation.metadata.uid!,
        [workloadPodKeys.component]: 'workload',
        'app.kubernetes.io/managed-by': 'ksleuth',
      },
      annotations: { ...template.metadata?.annotations, [workloadPodKeys.investigationAnnotation]: name },
      // A namespaced object may be owned by a cluster-scoped one: the garbage collector removes the
      // Pods with their investigation even when the operator is down. Not blocking: that would need
      // the finalizers permission on investigations, and the operator deletes the Pods itself first.
      ownerReferences: [{ apiVersion, kind: 'KernelInvestigation', name, uid: investigation.metadata.uid!, controller: true, blockOwnerDeletion: false }],
    },
    spec: {
      automountServiceAccountToken: false,
      ...spec,
      containers: spec.containers.map((c, i) => bounded(c, `${field}.containers[${i}]`, policy)),
      ...(spec.initContainers ? { initContainers: spec.initContainers.map((c, i) => bounded(c, `${field}.initContainers[${i}]`, policy)) } : {}),
      nodeName: node,
      restartPolicy: 'Never',
      activeDeadlineSeconds: investigation.spec.durationSeconds,
    },
  };
}
