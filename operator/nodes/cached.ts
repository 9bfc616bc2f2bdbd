import type { V1Node } from '@kubernetes/client-node';
import type { KernelNodeSpec, KernelNodeStatus, WatchFinding } from '../../api/v1alpha1/node.js';
import type { KubeObject } from '../../lib/kube/client.js';
import { projectMetadata, type ProjectedMetadata } from '../../runtime/projection.js';

/*
 * The operator caches every Node and every KernelNode of the cluster: 5,000 of each on the
 * largest clusters. It keeps only the fields its controllers read; the types say which, so the
 * compiler refuses code that reads a dropped field. Add a field here before reading it.
 */

/** A Node as the operator caches it: labels, readiness, kernel version and OS image. */
export interface CachedNode extends KubeObject {
  metadata: ProjectedMetadata<'labels'>;
  status?: {
    /** Only the Ready condition, only its type and status (heartbeat times change every few seconds). */
    conditions?: { type: string; status: string }[];
    nodeInfo?: { kernelVersion?: string; osImage?: string };
  };
}

/** What KernelTriggers read of a watch finding: which pattern, how severe, which occurrence, its title. */
export type CachedWatchFinding = Pick<WatchFinding, 'id' | 'pattern' | 'severity' | 'firstTime' | 'title'>;

/**
 * A KernelNode as the operator caches it: desired sysctls, the agent's sysctl report, kernel
 * version, OS image, heartbeat, and the watch's active findings without their evidence.
 */
export interface CachedKernelNode extends KubeObject {
  metadata: ProjectedMetadata<'labels'>;
  spec: Pick<KernelNodeSpec, 'sysctls'>;
  status?: Pick<KernelNodeStatus, 'kernelVersion' | 'osImage' | 'heartbeatTime' | 'sysctls'> & { findings?: CachedWatchFinding[] };
}

/** The informer transform for Nodes (drops images, addresses, capacity, annotations, other conditions, ...). */
export function cachedNode(object: KubeObject): CachedNode {
  const node = object as V1Node & KubeObject;
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  const kernelVersion = node.status?.nodeInfo?.kernelVersion;
  const osImage = node.status?.nodeInfo?.osImage;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: projectMetadata(node.metadata, ['labels']),
    status: {
      conditions: ready ? [{ type: 'Ready', status: ready.status }] : [],
      ...(kernelVersion !== undefined || osImage !== undefined
        ? { nodeInfo: { ...(kernelVersion !== undefined ? { kernelVersion } : {}), ...(osImage !== undefined ? { osImage } : {}) } }
        : {}),
    },
  };
}

/** The informer transform for KernelNodes (drops capabilities, capture support, conditions, agent endpoint, the watch's state, findings' evidence, ...). */
export function cachedKernelNode(object: KubeObject): CachedKernelNode {
  const kernelNode = object as KubeObject & { spec?: KernelNodeSpec; status?: KernelNodeStatus };
  const status = kernelNode.status;
  return {
    apiVersion: kernelNode.apiVersion,
    kind: 'KernelNode',
    metadata: projectMetadata(kernelNode.metadata, ['labels']),
    spec: kernelNode.spec?.sysctls ? { sysctls: kernelNode.spec.sysctls } : {},
    ...(status
      ? {
          status: {
            ...(status.kernelVersion !== undefined ? { kernelVersion: status.kernelVersion } : {}),
            ...(status.osImage !== undefined ? { osImage: status.osImage } : {}),
            ...(status.heartbeatTime !== undefined ? { heartbeatTime: status.heartbeatTime } : {}),
            ...(status.sysctls !== undefined ? { sysctls: status.sysctls } : {}),
            ...(status.findings !== undefined ? { findings: status.findings.map(cachedWatchFinding) } : {}),
          },
        }
      : {}),
  };
}

function cachedWatchFinding(finding: WatchFinding): CachedWatchFinding {
  return { id: finding.id, pattern: finding.pattern, severity: finding.severity, firstTime: finding.firstTime, title: finding.title };
}
