import type { V1Node } from '@kubernetes/client-node';
import type { KernelNode } from '../../api/v1alpha1/resources.js';
import type { KubeObject } from '../../lib/kube/client.js';

/** A cluster Node as the operator's informer caches it. */
export type NodeObject = V1Node & KubeObject;

/** A node whose agent last reported longer ago than this is not counted as registered. */
export const agentStaleAfterMs = 5 * 60 * 1000;

export function nodeReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Whether the agent on this node has registered and reported recently. */
export function agentRegistered(kernelNode: KernelNode | undefined, now: Date): 'yes' | 'NoAgent' | 'AgentStale' {
  const heartbeat = kernelNode?.status?.heartbeatTime;
  if (!heartbeat) return 'NoAgent';
  return now.getTime() - Date.parse(heartbeat) > agentStaleAfterMs ? 'AgentStale' : 'yes';
}
