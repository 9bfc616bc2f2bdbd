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

function setup(names: string[]) {
  const mitigations = new Store<KernelMitigation>();
  const nodes = new Store<CachedNode>();
  const kernelNodes = new Store<CachedKernelNode>();
  for (const name of names) {
    nodes.set(node(name));
    kernelNodes.set(kernelNode(name));
  }
  const patches: [string, unknown][] = [];
  const client = { patch: async (_ref: unknown, name: string, body: unknown) => void patches.push([name, body]) } as unknown as KubeClient;
  const reconciler = new MitigationReconciler({ client, stores: { mitigations, nodes, kernelNodes }, events: { record: () => undefined }, allowList });
  return { mitigations, kernelNodes, reconciler, patches };
}

const swappiness = {
  apiVersion: 'ksleuth.io/v1alpha1',
  kind: 'KernelMitigation',
  metadata: { name: 'swappiness', uid: 'm1', generation: 1 },
  spec: { sysctls: [{ name: 'vm.swappiness', value: '10' }], nodeSelector: { matchLabels: { pool: 'db' } } },
} as unknown as KernelMitigation;

describe('the mitigation controller, for a change of a node', () => {
  it('enqueues only that node while there is no mitigation, and every key once there is one', () => {
    const names = Array.from({ length: 50 }, (_, i) => `node-${i}`);
    const { mitigations, reconciler } = setup(names);
    expect(reconciler.keysForNodeChange(node('node-7'))).toEqual([nodeKey('node-7')]);
    mitigations.set(swappiness);
    const all = reconciler.keysForNodeChange(kernelNode('node-7'));
    expect(all).toHaveLength(51);
    expect(all).toContain(mitigationKey('swappiness'));
    expect(all).toContain(nodeKey('node-49'));
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
