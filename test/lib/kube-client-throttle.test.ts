import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { KubeClient, defaultThrottleRetry, throttleWaitMs } from '../../lib/kube/client.js';
import { useCluster } from '../helpers/cluster.js';
import { eventually } from '../runtime/helpers.js';

const cluster = useCluster({ controllerManager: false, kwok: false });

describe('throttleWaitMs', () => {
  it('waits what Retry-After names, capped, with up to 50 % jitter; a second when it names nothing', () => {
    expect(throttleWaitMs('2', defaultThrottleRetry, () => 0)).toBe(2000);
    expect(throttleWaitMs('2', defaultThrottleRetry, () => 1)).toBe(3000);
    expect(throttleWaitMs('3600', defaultThrottleRetry, () => 0)).toBe(30_000);
    expect(throttleWaitMs(undefined, defaultThrottleRetry, () => 0)).toBe(1000);
    expect(throttleWaitMs('soon', defaultThrottleRetry, () => 0)).toBe(1000);
  });
});

describe('KubeClient under API priority and fairness', () => {
  it('retries requests the API server rejects with 429 after its Retry-After, so a burst completes', async () => {
    const admin = cluster().client();
    const flowcontrol = (plural: string) => ({ group: 'flowcontrol.apiserver.k8s.io', version: 'v1', plural });
    // A priority level with about one seat that rejects (rather than queues) what does not fit,
    // for one ServiceAccount: what a busy cluster does to a client that floods it.
    await admin.create(flowcontrol('prioritylevelconfigurations'), {
      metadata: { name: 'ksleuth-test-tiny' },
      spec: { type: 'Limited', limited: { nominalConcurrencyShares: 1, lendablePercent: 0, borrowingLimitPercent: 0, limitResponse: { type: 'Reject' } } },
    });
    await admin.create(flowcontrol('flowschemas'), {
      metadata: { name: 'ksleuth-test-tiny' },
      spec: {
        priorityLevelConfiguration: { name: 'ksleuth-test-tiny' },
        matchingPrecedence: 100,
        distinguisherMethod: { type: 'ByUser' },
        rules: [
          {
            subjects: [{ kind: 'ServiceAccount', serviceAccount: { name: 'flooder', namespace: 'throttle' } }],
            resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'], namespaces: ['*'], clusterScope: true }],
          },
        ],
      },
    });
    const kubeconfig = await cluster().tokenKubeconfig({ namespace: 'throttle', serviceAccount: 'flooder' });
    await admin.create(
      { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles' },
      {
        metadata: { name: 'throttle-reader' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
      },
    );
    await admin.create(
      { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings' },
      {
        metadata: { name: 'throttle-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'throttle-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'flooder', namespace: 'throttle' }],
      },
    );
    const burst = async (client: KubeClient): Promise<{ ok: number; rejected: number }> => {
      const results = await Promise.allSettled(
        Array.from({ length: 200 }, () => client.list({ group: '', version: 'v1', plural: 'configmaps', namespace: 'kube-system' })),
      );
      return {
        ok: results.filter((r) => r.status === 'fulfilled').length,
        rejected: results.filter((r) => r.status === 'rejected' && String(r.reason).includes('429')).length,
      };
    };

    // Without retries, a burst is partly refused once the API server has the flow schema.
    const plain = KubeClient.load(kubeconfig, 'throttle-test');
    plain.throttleRetry = { ...defaultThrottleRetry, retries: 0 };
    let last = { ok: 0, rejected: 0 };
    await eventually(
      'the API server to reject part of a burst with 429',
      async () => (last = await burst(plain)).rejected > 0,
      60_000,
      () => JSON.stringify(last),
    );
    expect(last.ok + last.rejected).toBe(200);

    // With them, every request of the same burst succeeds, and some had to wait.
    const patient = KubeClient.load(kubeconfig, 'throttle-test');
    const seen: number[] = [];
    patient.onRequest((_method, _path, status) => seen.push(status));
    const result = await burst(patient);
    expect(result).toEqual({ ok: 200, rejected: 0 });
    expect(seen.filter((s) => s === 429).length).toBeGreaterThan(0);
    plain.close();
    patient.close();
  }, 180_000);
});

describe('KubeClient requests with a long-lived abort signal', () => {
  it('leave no abort listener behind once each request ended (an informer lists with its stop signal)', async () => {
    const client = cluster().client();
    const stop = new AbortController();
    for (let i = 0; i < 20; i++) await client.request('GET', '/api/v1/namespaces', { signal: stop.signal });
    await new Promise((resolve) => setImmediate(resolve));
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
  });
});
