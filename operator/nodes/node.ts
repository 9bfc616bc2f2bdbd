import type { CachedKernelNode, CachedNode } from './cached.js';

/** A cluster Node as the operator's informer caches it. */
export type NodeObject = CachedNode;

/** A node whose agent last reported longer ago than this is not counted as registered. */
export const agentStaleAfterMs = 5 * 60 * 1000;

export function nodeReady(node: CachedNode): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Whether the agent on this node has registered and reported recently. */
export function agentRegistered(kernelNode: CachedKernelNode | undefined, now: Date): 'yes' | 'NoAgent' | 'AgentStale' {
  const heartbeat = kernelNode?.status?.heartbeatTime;
  if (!heartbeat) return 'NoAgent';
  return now.getTime() - Date.parse(heartbeat) > agentStaleAfterMs ? 'AgentStale' : 'yes';
}
