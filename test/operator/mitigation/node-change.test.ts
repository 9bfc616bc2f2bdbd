import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { DesiredSysctl } from '../../../api/v1alpha1/node.js';
import type { KernelMitigation } from '../../../api/v1alpha1/resources.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { loadAllowList } from '../../../lib/sysctl/allowlist-load.js';
import { MitigationReconciler, mitigationKey, nodeKey } from '../../../operator/mitigation/controller.js';
import type { CachedKernelNode, CachedNode } from '../../../operator/nodes/cached.js';
import { Store } from '../../../runtime/store.js';

const allowList = await loadAllowList();
const context = { log: pino({ level: 'silent' }), signal: new AbortController().signal, retries: 0 };

function node(name: string): CachedNode {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, uid: name, labels: { pool: 'db' } }, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
}

function kernelNode(name: string, sysctls: DesiredSysctl[] = []): CachedKernelNode {
  return {
    apiVersion: 'ksleuth.io/v1alpha1',
    kind: 'KernelNode',
    metadata: { name, uid: `kn-${name}` },
    spec: { sysctls },
    status: { heartbeatTime: new Date().toISOString() },
  };
}

function setup(names: string[], enqueue?: (key: string) => void) {
  const mitigations = new Store<KernelMitigation>();
  const nodes = new Store<CachedNode>();
  const kernelNodes = new Store<CachedKernelNode>();
  for (const name of names) {
    nodes.set(node(name));
    kernelNodes.set(kernelNode(name));
  }
  const patches: [string, unknown][] = [];
  const client = { patch: async (_ref: unknown, name: string, body: unknown) => void patches.push([name, body]) } as unknown as KubeClient;
  const reconciler = new MitigationReconciler({ client, stores: { mitigations, nodes, kernelNodes }, events: { record: () => undefined }, allowList, enqueue });
  return { mitigations, nodes, kernelNodes, reconciler, patches };
}

const swappiness = {
  apiVersion: 'ksleuth.io/v1alpha1',
  kind: 'KernelMitigation',
  metadata: { name: 'swappiness', uid: 'm1', generation: 1 },
  spec: { sysctls: [{ name: 'vm.swappiness', value: '10' }], nodeSelector: { matchLabels: { pool: 'db' } } },
} as unknown as KernelMitigation;

describe('the mitigation controller, for a change of a node', () => {
  it('enqueues only that node while there is no mitigation, and with one the node and the mitigations it concerns, never every node', () => {
    const names = Array.from({ length: 50 }, (_, i) => `node-${i}`);
    const { mitigations, nodes, reconciler } = setup(names);
    expect(reconciler.keysForNodeChange(node('node-7'))).toEqual([nodeKey('node-7')]);
    mitigations.set(swappiness);
    mitigations.set({
      ...swappiness,
      metadata: { ...swappiness.metadata, name: 'web-only' },
      spec: { ...swappiness.spec, nodeSelector: { matchLabels: { pool: 'web' } } },
    });
    // A KernelNode's change: the labels are its Node's.
    expect(reconciler.keysForNodeChange(kernelNode('node-7'))).toEqual([nodeKey('node-7'), mitigationKey('swappiness')]);
    // A Node whose labels changed is mapped twice, old and new: both mitigations hear of it.
    const moved = { ...node('node-8'), metadata: { ...node('node-8').metadata, labels: { pool: 'web' } } };
    nodes.set(moved);
    expect(reconciler.keysForNodeChange(node('node-8'))).toEqual([nodeKey('node-8'), mitigationKey('swappiness')]);
    expect(reconciler.keysForNodeChange(moved)).toEqual([nodeKey('node-8'), mitigationKey('web-only')]);
    // A node the selector no longer matches still concerns a mitigation that set sysctls there (it reverts).
    const holding = kernelNode('node-8', [{ name: 'vm.swappiness', value: '10', mitigation: 'swappiness', revertPolicy: 'Restore', dryRun: false }]);
    expect(reconciler.keysForNodeChange(holding)).toEqual([nodeKey('node-8'), mitigationKey('swappiness'), mitigationKey('web-only')]);
  });

  it('enqueues the next node when a mitigation’s rollout admits it: no event of that node’s own would', async () => {
    const enqueued: string[] = [];
    const { mitigations, kernelNodes, reconciler } = setup(['node-a', 'node-b'], (key) => enqueued.push(key));
    mitigations.set({ ...swappiness, spec: { ...swappiness.spec, rollout: { maxConcurrentNodes: 1 } } } as KernelMitigation);
    reconciler.keysForChange();
    await reconciler.reconcile(mitigationKey('swappiness'), context);
    expect(enqueued).toEqual([nodeKey('node-a')]);
    // node-a holds the only slot until it reports the value Applied; then node-b is admitted.
    const desired = { name: 'vm.swappiness', value: '10', mitigation: 'swappiness', revertPolicy: 'Restore' as const, dryRun: false };
    kernelNodes.set({ ...kernelNode('node-a', [desired]), status: { heartbeatTime: new Date().toISOString(), sysctls: [] } });
    reconciler.keysForNodeChange(kernelNodes.get('node-a')!);
    enqueued.length = 0;
    await reconciler.reconcile(mitigationKey('swappiness'), context);
    expect(enqueued).toEqual([]);
    kernelNodes.set({
      ...kernelNode('node-a', [desired]),
      status: {
        heartbeatTime: new Date().toISOString(),
        sysctls: [{ name: 'vm.swappiness', mitigation: 'swappiness', desired: '10', state: 'Applied' }],
      },
    } as CachedKernelNode);
    reconciler.keysForNodeChange(kernelNodes.get('node-a')!);
    await reconciler.reconcile(mitigationKey('swappiness'), context);
    expect(enqueued).toEqual([nodeKey('node-b')]);
  });

  it('without any mitigation, clears a node’s leftover desired sysctls and writes nothing for the others', async () => {
    const { kernelNodes, reconciler, patches } = setup(['node-a', 'node-b']);
    kernelNodes.set(kernelNode('node-a', [{ name: 'vm.swappiness', value: '10', mitigation: 'gone', revertPolicy: 'Restore', dryRun: false }]));
    await reconciler.reconcile(nodeKey('node-a'), context);
    await reconciler.reconcile(nodeKey('node-b'), context);
    await reconciler.reconcile(nodeKey('not-registered'), context);
    expect(patches).toEqual([['node-a', { spec: { sysctls: [] } }]]);
  });

  it('with a mitigation, resolves as before: the selected node is asked for its sysctl', async () => {
    const { mitigations, reconciler, patches } = setup(['node-a']);
    mitigations.set(swappiness);
    reconciler.keysForChange();
    await reconciler.reconcile(nodeKey('node-a'), context);
    expect(patches).toHaveLength(1);
    expect(JSON.stringify(patches[0])).toContain('vm.swappiness');
  });
});
