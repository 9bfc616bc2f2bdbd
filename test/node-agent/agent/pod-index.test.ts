import type { V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../lib/kube/client.js';
import { core } from '../../../lib/kube/resources.js';
import { indexPod, PodIndex, podOwner } from '../../../node-agent/agent/pod-index.js';
import { Manager } from '../../../runtime/manager.js';
import { namespace as chartNamespace, one, render, until } from '../../chart/chart.js';
import { useCluster } from '../../helpers/cluster.js';

const cluster = useCluster({ controllerManager: false, kwok: false });
const id = (n: number) => n.toString(16).padStart(64, '0');

function pod(name: string, namespace: string, nodeName: string, extra: Partial<V1Pod['metadata']> = {}): V1Pod {
  return {
    metadata: { name, namespace, ...extra },
    spec: { nodeName, containers: [{ name: 'app', image: 'example.invalid/app:1' }] },
  };
}

describe('podOwner and indexPod', () => {
  it('names a Deployment through its ReplicaSet’s pod-template-hash, and other controllers as they are', () => {
    const ref = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8f7c9b4', uid: 'u', controller: true };
    expect(podOwner({ metadata: { labels: { 'pod-template-hash': '5d8f7c9b4' }, ownerReferences: [ref] } })).toBe('Deployment/web');
    // A ReplicaSet of its own (no matching hash) stays a ReplicaSet.
    expect(podOwner({ metadata: { ownerReferences: [ref] } })).toBe('ReplicaSet/web-5d8f7c9b4');
    expect(podOwner({ metadata: { ownerReferences: [{ ...ref, kind: 'StatefulSet', name: 'db' }] } })).toBe('StatefulSet/db');
    expect(podOwner({ metadata: { ownerReferences: [{ ...ref, controller: false }] } })).toBeUndefined();
    expect(podOwner({ metadata: {} })).toBeUndefined();
  });

  it('keeps names, owner, every container ID without the runtime prefix and the network facts, and nothing else of the pod', () => {
    const indexed = indexPod({
      metadata: { name: 'p', namespace: 'n', uid: 'u-1', resourceVersion: '7', labels: { a: 'b' }, annotations: { big: 'x'.repeat(1000) } },
      spec: { containers: [{ name: 'app', image: 'i', env: [{ name: 'SECRET', value: 's' }] }] },
      status: {
        initContainerStatuses: [{ name: 'init', containerID: `containerd://${id(1)}` } as never],
        containerStatuses: [{ name: 'app', containerID: `cri-o://${id(2)}` } as never, { name: 'waiting' } as never],
      },
    });
    expect(indexed.entry).toEqual({ uid: 'u-1', namespace: 'n', name: 'p', containers: { [id(1)]: 'init', [id(2)]: 'app' } });
    expect(indexed.network).toEqual({ hostNetwork: false, sandbox: false, terminating: false, labels: { a: 'b' }, sysctls: {} });
    expect(JSON.stringify(indexed)).not.toMatch(/SECRET|big/);
  });
});

describe('PodIndex against the API server, with the chart’s agent RBAC', () => {
  const managers: Manager[] = [];
  afterAll(async () => {
    await Promise.all(managers.map((m) => m.stop()));
  });

  it('lists and watches only its node’s pods, in every namespace, as the agent’s ServiceAccount', async () => {
    const admin = cluster().client();
    const role = one(await render(), 'ClusterRole', '-agent');
    expect(role.rules).toContainEqual({ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] });
    await cluster().kubectl(['apply', '-f', '-'], { input: role.text });
    const kubeconfig = await cluster().tokenKubeconfig({ namespace: chartNamespace, serviceAccount: 'ksleuth-agent' });
    await cluster().kubectl([
      'create',
      'clusterrolebinding',
      'pod-index-test',
      `--clusterrole=${role.metadata.name}`,
      `--serviceaccount=${chartNamespace}:ksleuth-agent`,
    ]);
    for (const ns of ['shop', 'batch']) {
      await admin.create(core.namespaces, { metadata: { name: ns } });
      // No controller manager here to make it.
      await admin.create(core.serviceAccounts(ns), { metadata: { name: 'default', namespace: ns } });
    }
    await admin.create(core.pods('shop'), pod('web-1', 'shop', 'node-a'));
    await admin.create(core.pods('batch'), pod('elsewhere', 'batch', 'node-b'));

    const manager = new Manager({ client: KubeClient.load(kubeconfig), name: 'pod-index-test', health: false, log: pino({ level: 'silent' }) });
    managers.push(manager);
    const index = PodIndex.register(manager, 'node-a');
    await manager.start();
    expect(index.entries().map((p) => `${p.namespace}/${p.name}`)).toEqual(['shop/web-1']);

    // A pod that arrives later, and its container IDs once the kubelet reports them.
    const job = await admin.create<V1Pod & { metadata: { uid: string } }>(
      core.pods('batch'),
      pod('job-1', 'batch', 'node-a', { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'nightly', uid: 'j', controller: true }] }),
    );
    await admin.request('PATCH', `/api/v1/namespaces/batch/pods/job-1/status`, {
      body: { status: { containerStatuses: [{ name: 'app', containerID: `containerd://${id(3)}`, image: 'i', imageID: '', ready: true, restartCount: 0 }] } },
      contentType: 'application/merge-patch+json',
    });
    await until(
      'the index to see job-1 with its container',
      async () => index.entries().some((p) => p.name === 'job-1' && p.containers[id(3)] === 'app'),
      20_000,
    );
    expect(index.entries().find((p) => p.name === 'job-1')).toEqual({
      uid: job.metadata.uid,
      namespace: 'batch',
      name: 'job-1',
      owner: 'Job/nightly',
      containers: { [id(3)]: 'app' },
    });

    // No kubelet confirms a graceful deletion here: delete at once.
    await admin.request('DELETE', '/api/v1/namespaces/shop/pods/web-1', { body: { gracePeriodSeconds: 0 } });
    await until('the index to forget web-1', async () => !index.entries().some((p) => p.name === 'web-1'), 20_000);
    expect(index.size).toBe(1);
  });
});
