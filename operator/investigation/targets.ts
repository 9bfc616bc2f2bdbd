import type { KernelInvestigationSpec } from '../../api/v1alpha1/investigation.js';
import { matchesSelector } from '../../lib/selector.js';
import type { CachedKernelNode, CachedNode } from '../nodes/cached.js';
import { agentRegistered, nodeReady } from '../nodes/node.js';

export interface Exclusion {
  node: string;
  reason: 'NotFound' | 'NotReady' | 'NoAgent' | 'AgentStale' | 'OverMaxNodes';
}

export interface Targets {
  nodes: string[];
  excluded: Exclusion[];
}

/**
 * The nodes an investigation runs on: the named nodes plus the selected ones, that are Ready and
 * have a registered agent, in name order, at most maxNodes. Every node left out is listed with why.
 */
export function resolveTargets(spec: KernelInvestigationSpec['nodes'], nodes: CachedNode[], kernelNodes: Map<string, CachedKernelNode>, now: Date): Targets {
  const byName = new Map(nodes.map((n) => [n.metadata.name ?? '', n]));
  const candidates = new Set<string>();
  const excluded: Exclusion[] = [];
  for (const name of spec.names ?? []) {
    if (byName.has(name)) candidates.add(name);
    else excluded.push({ node: name, reason: 'NotFound' });
  }
  if (spec.selector) {
    for (const node of nodes) {
      if (matchesSelector(spec.selector, node.metadata.labels)) candidates.add(node.metadata.name!);
    }
  }
  const eligible: string[] = [];
  for (const name of [...candidates].sort()) {
    if (!nodeReady(byName.get(name)!)) {
      excluded.push({ node: name, reason: 'NotReady' });
      continue;
    }
    const agent = agentRegistered(kernelNodes.get(name), now);
    if (agent !== 'yes') {
      excluded.push({ node: name, reason: agent });
      continue;
    }
    eligible.push(name);
  }
  for (const name of eligible.slice(spec.maxNodes)) excluded.push({ node: name, reason: 'OverMaxNodes' });
  return { nodes: eligible.slice(0, spec.maxNodes), excluded };
}

/** "2 nodes not Ready (a, b); 1 node without a ksleuth agent (c)". */
export function describeExclusions(excluded: Exclusion[]): string {
  const words: Record<Exclusion['reason'], string> = {
    NotFound: 'not found',
    NotReady: 'not Ready',
    NoAgent: 'without a ksleuth agent',
    AgentStale: 'whose agent stopped reporting',
    OverMaxNodes: 'over maxNodes',
  };
  const groups = new Map<Exclusion['reason'], string[]>();
  for (const e of excluded) groups.set(e.reason, [...(groups.get(e.reason) ?? []), e.node]);
  return [...groups]
    .map(
      ([reason, names]) =>
        `${names.length} node${names.length === 1 ? '' : 's'} ${words[reason]} (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''})`,
    )
    .join('; ');
}
