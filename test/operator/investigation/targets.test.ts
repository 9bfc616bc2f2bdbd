import { describe, expect, it } from 'vitest';
import type { KernelNode } from '../../../api/v1alpha1/resources.js';
import { cachedNode, type CachedNode } from '../../../operator/nodes/cached.js';
import { describeExclusions, pickEvenly, resolveTargets } from '../../../operator/investigation/targets.js';

const now = new Date('2026-11-26T12:00:00Z');

/** A Node as the operator's cache holds it (the test's object goes through the informer's transform). */
function node(name: string, labels: Record<string, string> = {}, ready = true): CachedNode {
  return cachedNode({
    metadata: { name, labels },
    status: {
      conditions: [
        { type: 'MemoryPressure', status: 'False' },
        { type: 'Ready', status: ready ? 'True' : 'False', lastHeartbeatTime: '2026-11-26T11:59:50Z' },
      ],
    },
  });
}

function agent(name: string, heartbeatAgoMs = 1000): [string, KernelNode] {
  return [name, { metadata: { name }, spec: {}, status: { heartbeatTime: new Date(now.getTime() - heartbeatAgoMs).toISOString() } } as KernelNode];
}

describe('resolveTargets', () => {
  const nodes = [
    node('w1', { pool: 'db' }),
    node('w2', { pool: 'db' }),
    node('w3', { pool: 'web' }),
    node('w4', { pool: 'db' }, false),
    node('w5', { pool: 'db' }),
  ];
  const agents = new Map([agent('w1'), agent('w2'), agent('w3'), agent('w4'), agent('w5', 10 * 60 * 1000)]);

  it('takes named and selected nodes that are Ready and have a live agent, in name order', () => {
    const targets = resolveTargets({ names: ['w3', 'missing'], selector: { matchLabels: { pool: 'db' } }, maxNodes: 10 }, nodes, agents, now);
    expect(targets.nodes).toEqual(['w1', 'w2', 'w3']);
    expect(targets.excluded).toEqual([
      { node: 'missing', reason: 'NotFound' },
      { node: 'w4', reason: 'NotReady' },
      { node: 'w5', reason: 'AgentStale' },
    ]);
  });

  it('stops at maxNodes and says so', () => {
    const targets = resolveTargets({ selector: {}, maxNodes: 2 }, nodes, agents, now);
    expect(targets.nodes).toEqual(['w1', 'w2']);
    expect(targets.excluded.filter((e) => e.reason === 'OverMaxNodes').map((e) => e.node)).toEqual(['w3']);
  });

  it('leaves out nodes without an agent', () => {
    const targets = resolveTargets({ names: ['w1', 'w2'], maxNodes: 10 }, nodes, new Map([agent('w1')]), now);
    expect(targets.nodes).toEqual(['w1']);
    expect(describeExclusions(targets.excluded)).toBe('1 node without a ksleuth agent (w2)');
  });
});

describe('pickEvenly', () => {
  const kernels: Record<string, string> = { a1: 'k1', a2: 'k1', a3: 'k1', a4: 'k1', a5: 'k1', b1: 'k2', b2: 'k2', c1: 'k3' };
  const eligible = Object.keys(kernels).sort();

  it('takes one node from each group in turn, not the first ones by name', () => {
    expect(pickEvenly(eligible, 3, (n) => kernels[n]!)).toEqual(['a1', 'b1', 'c1']);
    expect(pickEvenly(eligible, 5, (n) => kernels[n]!)).toEqual(['a1', 'a2', 'b1', 'b2', 'c1']);
    // Small groups run out: the rest comes from the large one.
    expect(pickEvenly(eligible, 7, (n) => kernels[n]!)).toEqual(['a1', 'a2', 'a3', 'a4', 'b1', 'b2', 'c1']);
  });

  it('is the first by name without groups, and everything when there is room', () => {
    expect(pickEvenly(eligible, 3)).toEqual(['a1', 'a2', 'a3']);
    expect(pickEvenly(eligible, 20, (n) => kernels[n]!)).toEqual(eligible);
  });

  it('does not depend on the order the nodes come in', () => {
    expect(pickEvenly([...eligible].reverse().sort(), 4, (n) => kernels[n]!)).toEqual(pickEvenly(eligible, 4, (n) => kernels[n]!));
  });
});

describe('resolveTargets with compareBy', () => {
  const nodes = [node('w1', { pool: 'db' }), node('w2', { pool: 'db' }), node('w3', { pool: 'db' }), node('w4', { pool: 'web' })];
  const agents = new Map([agent('w1'), agent('w2'), agent('w3'), agent('w4')]);

  it('picks across the groups and lists the others as over maxNodes', () => {
    const targets = resolveTargets({ selector: {}, maxNodes: 2 }, nodes, agents, now, (n) => nodes.find((x) => x.metadata.name === n)!.metadata.labels!.pool!);
    expect(targets.nodes).toEqual(['w1', 'w4']);
    expect(targets.excluded).toEqual([
      { node: 'w2', reason: 'OverMaxNodes' },
      { node: 'w3', reason: 'OverMaxNodes' },
    ]);
  });
});
