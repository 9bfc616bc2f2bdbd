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
 * At most `max` of `eligible` (in name order): without groups the first by name; with groups one
 * from each group in turn (groups by value, nodes by name within a group), so that every group
 * is represented as evenly as `max` allows. Deterministic; the picks come back in name order.
 */
export function pickEvenly(eligible: readonly string[], max: number, groupOf?: (node: string) => string): string[] {
  if (!groupOf || eligible.length <= max) return eligible.slice(0, max);
  const groups = new Map<string, string[]>();
  for (const node of eligible) {
    const group = groupOf(node);
    const members = groups.get(group);
    if (members) members.push(node);
    else groups.set(group, [node]);
  }
  const queues = [...groups].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, members]) => members);
  const picked: string[] = [];
  for (let round = 0; picked.length < max; round++) {
    for (const members of queues) {
      if (round < members.length && picked.length < max) picked.push(members[round]!);
    }
  }
  return picked.sort();
}

/**
 * The nodes an investigation runs on: the named nodes plus the selected ones, that are Ready and
 * have a registered agent, at most maxNodes: with `groupOf` (compareBy) picked evenly across the
 * groups, else the first by name. Every node left out is listed with why.
 */
export function resolveTargets(
  spec: KernelInvestigationSpec['nodes'],
  nodes: CachedNode[],
  kernelNodes: Map<string, CachedKernelNode>,
  now: Date,
  groupOf?: (node: string) => string,
): Targets {
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
  const picked = pickEvenly(eligible, spec.maxNodes, groupOf);
  const chosen = new Set(picked);
  for (const name of eligible) if (!chosen.has(name)) excluded.push({ node: name, reason: 'OverMaxNodes' });
  return { nodes: picked, excluded };
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
