import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { KernelCapture, KernelMitigation } from '../../api/v1alpha1/resources.js';
import { nodeFigures } from '../../lib/figures.js';
import type { KubeClient, KubeObject } from '../../lib/kube/client.js';
import { projectRoot } from '../../lib/paths.js';
import { loadAllowList } from '../../lib/sysctl/allowlist-load.js';
import { cachedCapture, type CachedCapture } from '../../operator/investigation/cached.js';
import { nodeInfoOf } from '../../operator/investigation/tallies.js';
import { InvestigationTally, summarize } from '../../operator/investigation/tally.js';
import { resolveTargets } from '../../operator/investigation/targets.js';
import { MitigationReconciler, mitigationKey, nodeKey } from '../../operator/mitigation/controller.js';
import { cachedKernelNode, cachedNode, type CachedKernelNode, type CachedNode } from '../../operator/nodes/cached.js';
import { agentRegistered, nodeReady } from '../../operator/nodes/node.js';
import { Store } from '../../runtime/store.js';
import { pino } from 'pino';

const fixture = (name: string): KubeObject => JSON.parse(readFileSync(join(projectRoot, 'test', 'fixtures', 'objects', name), 'utf8')) as KubeObject;

/**
 * Wraps an object so that every property read is recorded as a path (`status.conditions.[].type`),
 * arrays' elements as `[]`.
 */
function recordReads<T extends object>(object: T, reads: Set<string>, path = ''): T {
  return new Proxy(object, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof key !== 'string' || (Array.isArray(target) && !/^\d+$/.test(key))) return value;
      const at = Array.isArray(target) ? `${path}.[]` : path ? `${path}.${key}` : key;
      reads.add(at);
      return value !== null && typeof value === 'object' ? recordReads(value as object, reads, at) : value;
    },
  });
}

/** Whether a value exists at the path in the object (`[]`: in some element). */
function has(value: unknown, path: string[]): boolean {
  if (path.length === 0) return value !== undefined;
  if (value === null || typeof value !== 'object') return false;
  const [head, ...rest] = path;
  if (head === '[]') return Array.isArray(value) && value.some((v) => has(v, rest));
  return has((value as Record<string, unknown>)[head!], rest);
}

/** The paths read that the full object has and the cached one lacks. */
function dropped(reads: Set<string>, full: unknown, cached: unknown): string[] {
  return [...reads].filter((p) => has(full, p.split('.')) && !has(cached, p.split('.')));
}

const now = new Date();
const allowList = await loadAllowList();

function nodeFixtures(): { node: KubeObject; kernelNode: KubeObject } {
  const node = fixture('node.json');
  const kernelNode = fixture('kernelnode.json');
  // A fresh heartbeat, so that the agent counts as registered and every reader runs.
  (kernelNode.status as { heartbeatTime: string }).heartbeatTime = now.toISOString();
  return { node, kernelNode };
}

describe('the operator’s caches', () => {
  it('keep of a Node its identity, labels, Ready, kernel version and OS image, and a fraction of its size', () => {
    const { node } = nodeFixtures();
    const cached = cachedNode(node);
    expect(cached.metadata).toEqual({
      name: node.metadata.name,
      uid: node.metadata.uid,
      resourceVersion: node.metadata.resourceVersion,
      labels: node.metadata.labels,
    });
    expect(cached.status).toEqual({
      conditions: [{ type: 'Ready', status: 'True' }],
      nodeInfo: { kernelVersion: '6.1.0-simulated', osImage: 'Simulated Linux' },
    });
    expect(JSON.stringify(cached).length).toBeLessThan(JSON.stringify(node).length / 4);
    expect(nodeReady(cached)).toBe(true);
    expect(nodeReady(cachedNode({ ...node, status: { conditions: [{ type: 'Ready', status: 'False' }] } }))).toBe(false);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('keep every field of Nodes and KernelNodes that target selection, grouping and the mitigation controller read', async () => {
    // The two runs' patches carry condition times: a second that ticks between them is no difference.
    vi.useFakeTimers({ now, toFake: ['Date'] });
    const { node, kernelNode } = nodeFixtures();
    const reads = { node: new Set<string>(), kernelNode: new Set<string>() };
    const run = async (n: CachedNode, kn: CachedKernelNode): Promise<unknown> => {
      const targets = resolveTargets(
        { names: [n.metadata.name!], selector: { matchLabels: { pool: 'cache' } }, maxNodes: 10 },
        [n],
        new Map([[kn.metadata.name!, kn]]),
        now,
      );
      const info = nodeInfoOf(n, kn);
      const patches: unknown[] = [];
      const mitigation = {
        apiVersion: 'ksleuth.io/v1alpha1',
        kind: 'KernelMitigation',
        metadata: { name: 'min-free', generation: 1, finalizers: ['ksleuth.io/revert'] },
        spec: { sysctls: [{ name: 'vm.min_free_kbytes', value: '262144' }], nodeSelector: { matchLabels: { pool: 'cache' } }, revertPolicy: 'Restore' },
      } as unknown as KernelMitigation;
      const mitigations = new Store<KernelMitigation>();
      mitigations.set(mitigation);
      const nodes = new Store<CachedNode>();
      nodes.set(n);
      const kernelNodes = new Store<CachedKernelNode>();
      kernelNodes.set(kn);
      const client = { patch: async (_ref: unknown, name: string, body: unknown) => patches.push([name, body]) } as unknown as KubeClient;
      const reconciler = new MitigationReconciler({
        client,
        stores: { mitigations, nodes, kernelNodes },
        events: { record: () => undefined },
        allowList,
      });
      const context = { log: pino({ level: 'silent' }), signal: new AbortController().signal, retries: 0 };
      // One key per node (its desired sysctls) and one per mitigation (finalizer and status).
      await reconciler.reconcile(nodeKey(n.metadata.name!), context);
      await reconciler.reconcile(mitigationKey('min-free'), context);
      return { targets, info, ready: nodeReady(n), agent: agentRegistered(kn, now), patches };
    };
    const full = await run(recordReads(node as CachedNode, reads.node), recordReads(kernelNode as CachedKernelNode, reads.kernelNode));
    const cached = await run(cachedNode(node), cachedKernelNode(kernelNode));
    expect(cached).toEqual(full);
    // The readers did read the fields that matter: a recorder that saw nothing would prove nothing.
    expect(reads.node).toContain('metadata.labels');
    expect(reads.node).toContain('status.conditions.[].status');
    expect(reads.kernelNode).toContain('status.heartbeatTime');
    expect(reads.kernelNode).toContain('status.sysctls');
    expect(dropped(reads.node, node, cachedNode(node))).toEqual([]);
    expect(dropped(reads.kernelNode, kernelNode, cachedKernelNode(kernelNode))).toEqual([]);
  });

  it('keep every field of a KernelCapture that the tally and the controller read, and less than half of a real one', () => {
    const capture = fixture('kernelcapture.json');
    const reads = new Set<string>();
    const render = (child: CachedCapture): unknown => {
      const tally = new InvestigationTally(child.metadata.ownerReferences![0]!.uid, { kind: 'kernelVersion' });
      tally.set(
        child.metadata.name!,
        summarize(child, tally.groupBy, () => undefined),
      );
      return {
        status: tally.render(1, false),
        // what the controller's filters, owner checks and timeout marking read
        owner: child.metadata.ownerReferences?.find((o) => o.kind === 'KernelInvestigation' && o.controller)?.uid,
        filter: [child.status?.phase, child.status?.findingCount, child.status?.conditions, child.spec.investigation, child.metadata.resourceVersion],
      };
    };
    // The node's figures are the one thing the transform derives (from the results' summaries, which it then drops).
    const figures = nodeFigures((capture as KernelCapture).status!.results!);
    const full = render(recordReads({ ...capture, ...(Object.keys(figures).length > 0 ? { figures } : {}) } as CachedCapture, reads));
    const cached = cachedCapture(capture);
    expect(render(cached)).toEqual(full);
    expect(reads).toContain('status.findings.[].evidence');
    expect(dropped(reads, capture, cached)).toEqual([]);
    expect(Object.keys(cached.status!).sort()).toEqual(['findingCount', 'findings', 'kernelVersion', 'phase']);
    expect(JSON.stringify(cached).length).toBeLessThan(JSON.stringify(capture).length / 2);
    expect((capture as KernelCapture).status!.results!.length).toBeGreaterThan(0);
  });
});
