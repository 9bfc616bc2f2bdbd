import { describe, expect, it } from 'vitest';
import type { KernelInvestigation, KernelTrigger } from '../../../api/v1alpha1/resources.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { log } from '../../../lib/log.js';
import type { CachedKernelNode } from '../../../operator/nodes/cached.js';
import type { NodeObject } from '../../../operator/nodes/node.js';
import { TriggerReconciler } from '../../../operator/triggers/controller.js';
import { Store } from '../../../runtime/store.js';

/** A store that counts how often it was read in full. */
class CountingStore<T extends { metadata: { name?: string } }> extends Store<T & { apiVersion?: string; kind?: string }> {
  lists = 0;
  override list(filter?: (object: T) => boolean): T[] {
    this.lists++;
    return super.list(filter);
  }
}

describe('TriggerReconciler', () => {
  it('reads no KernelNode or Node when there is no trigger (registering thousands of nodes costs it nothing)', async () => {
    const kernelNodes = new CountingStore<CachedKernelNode>();
    const nodes = new CountingStore<NodeObject>();
    for (let i = 0; i < 3; i++) {
      kernelNodes.set({ apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelNode', metadata: { name: `n${i}` }, spec: {} });
      nodes.set({ apiVersion: 'v1', kind: 'Node', metadata: { name: `n${i}` } } as NodeObject);
    }
    const client = new Proxy({} as KubeClient, {
      get: (_target, property) => () => {
        throw new Error(`no API call expected, got ${String(property)}`);
      },
    });
    const reconciler = new TriggerReconciler({
      client,
      stores: { triggers: new Store<KernelTrigger>(), kernelNodes, nodes, investigations: new Store<KernelInvestigation>() },
      events: { record: () => undefined },
      clusterMaxPerHour: 20,
      log,
    });
    await expect(reconciler.reconcile()).resolves.toBeUndefined();
    expect(kernelNodes.lists).toBe(0);
    expect(nodes.lists).toBe(0);
  });
});
