import { describe, expect, it } from 'vitest';
import type { WatchFinding } from '../../../api/v1alpha1/node.js';
import type { KernelNode, KernelTrigger } from '../../../api/v1alpha1/resources.js';
import { triggerSpec } from '../../../api/v1alpha1/trigger.js';
import type { NodeObject } from '../../../operator/nodes/node.js';
import { decideTriggers, investigationName, type StartedInvestigation } from '../../../operator/triggers/decide.js';

const now = Date.UTC(2026, 11, 1, 12);
const finding = (pattern: WatchFinding['pattern'], severity: WatchFinding['severity'] = 'warning', firstTime = '2026-12-01T11:00:00Z'): WatchFinding => ({
  id: `trend/${pattern}`,
  source: 'trend',
  rule: pattern,
  pattern,
  severity,
  title: `${pattern} on the node`,
  evidence: [],
  recommendation: 'look',
  firstTime,
  lastTime: firstTime,
  count: 1,
});
const kernelNode = (name: string, findings: WatchFinding[]): KernelNode =>
  ({ apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelNode', metadata: { name }, spec: {}, status: { findings } }) as KernelNode;
const node = (name: string, labels: Record<string, string> = {}): [string, NodeObject] => [name, { metadata: { name, labels } } as NodeObject];
function trigger(name: string, spec: Record<string, unknown>) {
  const parsed = triggerSpec.parse({ findings: { patterns: ['slab-growth-trend'] }, investigation: { captures: [{ slab: {} }] }, ...spec });
  return { trigger: { apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelTrigger', metadata: { name }, spec: parsed } as KernelTrigger, spec: parsed };
}

describe('decideTriggers', () => {
  const nodes = new Map([node('node-a', { pool: 'db' }), node('node-b', { pool: 'web' })]);

  it('starts one investigation per trigger, node and occurrence, on matching nodes and severities only', () => {
    const { starts } = decideTriggers({
      triggers: [trigger('slab', { nodeSelector: { matchLabels: { pool: 'db' } } })],
      kernelNodes: [kernelNode('node-a', [finding('slab-growth-trend'), finding('io-pressure-trend')]), kernelNode('node-b', [finding('slab-growth-trend')])],
      nodes,
      started: [],
      clusterMaxPerHour: 20,
      nowMs: now,
    });
    expect(starts.map((s) => [s.node, s.finding.pattern])).toEqual([['node-a', 'slab-growth-trend']]);
    expect(starts[0]!.name).toBe(investigationName('slab', 'node-a', finding('slab-growth-trend')));
    const info = decideTriggers({
      triggers: [trigger('slab', {})],
      kernelNodes: [kernelNode('node-a', [finding('slab-growth-trend', 'info')])],
      nodes,
      started: [],
      clusterMaxPerHour: 20,
      nowMs: now,
    });
    expect(info.starts).toEqual([]);
  });

  it('does not start the same occurrence twice, and waits out the cooldown for a new one', () => {
    const first = finding('slab-growth-trend');
    const started: StartedInvestigation[] = [{ name: investigationName('slab', 'node-a', first), trigger: 'slab', node: 'node-a', createdMs: now - 600_000 }];
    const again = decideTriggers({
      triggers: [trigger('slab', {})],
      kernelNodes: [kernelNode('node-a', [first])],
      nodes,
      started,
      clusterMaxPerHour: 20,
      nowMs: now,
    });
    expect(again).toEqual({ starts: [], skips: [] });
    const second = finding('slab-growth-trend', 'critical', '2026-12-01T11:55:00Z');
    const cooling = decideTriggers({
      triggers: [trigger('slab', { cooldownSeconds: 3600 })],
      kernelNodes: [kernelNode('node-a', [second])],
      nodes,
      started,
      clusterMaxPerHour: 20,
      nowMs: now,
    });
    expect(cooling.starts).toEqual([]);
    expect(cooling.skips).toEqual([
      { trigger: 'slab', node: 'node-a', finding: 'trend/slab-growth-trend', reason: 'Cooldown', retryAtMs: now - 600_000 + 3600_000 },
    ]);
    const later = decideTriggers({
      triggers: [trigger('slab', { cooldownSeconds: 300 })],
      kernelNodes: [kernelNode('node-a', [second])],
      nodes,
      started,
      clusterMaxPerHour: 20,
      nowMs: now,
    });
    expect(later.starts).toHaveLength(1);
  });

  it('stops at the trigger’s cap and at the cluster’s cap per hour', () => {
    const many = Array.from({ length: 5 }, (_, i) => kernelNode(`n${i}`, [finding('slab-growth-trend')]));
    const allNodes = new Map(many.map((kn) => node(kn.metadata.name!)));
    const capped = decideTriggers({
      triggers: [trigger('slab', { maxPerHour: 2 })],
      kernelNodes: many,
      nodes: allNodes,
      started: [],
      clusterMaxPerHour: 20,
      nowMs: now,
    });
    expect(capped.starts.map((s) => s.node)).toEqual(['n0', 'n1']);
    expect(capped.skips.map((s) => s.reason)).toEqual(['TriggerCap', 'TriggerCap', 'TriggerCap']);
    const cluster = decideTriggers({
      triggers: [trigger('a', {}), trigger('b', {})],
      kernelNodes: many,
      nodes: allNodes,
      started: [{ name: 'old', trigger: 'other', node: 'x', createdMs: now - 30 * 60_000 }],
      clusterMaxPerHour: 3,
      nowMs: now,
    });
    expect(cluster.starts.map((s) => `${s.trigger.metadata.name}/${s.node}`)).toEqual(['a/n0', 'a/n1']);
    expect(cluster.skips.every((s) => s.reason === 'ClusterCap' && s.retryAtMs === now + 30 * 60_000)).toBe(true);
    expect(
      decideTriggers({ triggers: [trigger('s', { suspend: true })], kernelNodes: many, nodes: allNodes, started: [], clusterMaxPerHour: 3, nowMs: now }).starts,
    ).toEqual([]);
  });
});
