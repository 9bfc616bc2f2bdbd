import { describe, expect, it } from 'vitest';
import type { KernelNode } from '../../../api/v1alpha1/resources.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { ksleuth } from '../../../lib/kube/resources.js';
import { log } from '../../../lib/log.js';
import { loadAllowList } from '../../../lib/sysctl/allowlist-load.js';
import { SysctlSync } from '../../../node-agent/agent/sysctl-sync.js';
import { EventRecorder } from '../../../runtime/events.js';
import { Store } from '../../../runtime/store.js';
import { useCluster } from '../../helpers/cluster.js';
import { tempDir } from '../sysctl/temp-dirs.js';

const cluster = useCluster({ controllerManager: false, kwok: false });

/** The methods of the requests a client sends, in order. */
function recordRequests(client: KubeClient): string[] {
  const methods: string[] = [];
  const send = client.request.bind(client);
  client.request = ((method: string, path: string, options?: object) => {
    methods.push(method);
    return send(method, path, options);
  }) as typeof client.request;
  return methods;
}

describe('the sysctl drift check', () => {
  it('reads nothing from the API server when the cached KernelNode already shows what it found (the soak: one GET per check)', async () => {
    const admin = cluster().client();
    const name = 'drift-check-node';
    await admin.create(ksleuth('KernelNode'), { apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelNode', metadata: { name }, spec: {} });
    const store = new Store<KernelNode>();
    const refresh = async (): Promise<void> => {
      store.set(await admin.get<KernelNode>(ksleuth('KernelNode'), name));
    };
    await refresh();
    const client = cluster().client();
    const sync = new SysctlSync({
      client,
      nodeName: name,
      kernelNodes: store,
      allowList: await loadAllowList(),
      stateDir: await tempDir('ksleuth-drift-check-'),
      events: new EventRecorder({ client, component: 'ksleuth-agent' }),
      driftCheckMs: 30_000,
      log,
    });
    const requests = recordRequests(client);

    // First pass: the status is new, so it is read and written.
    expect(await sync.reconcile()).toEqual({ requeueAfterMs: 30_000 });
    expect(requests).toEqual(['GET', 'PATCH']);
    const written = await admin.get<KernelNode>(ksleuth('KernelNode'), name);
    expect(written.status?.sysctlSummary).toBe('0/0');

    // The cache has caught up: the next check finds the same and sends nothing.
    await refresh();
    requests.length = 0;
    await sync.reconcile();
    await sync.reconcile();
    expect(requests).toEqual([]);

    // A cache that still shows the old status costs one read, and no write (the server has it).
    store.set({ ...written, status: undefined });
    await sync.reconcile();
    expect(requests).toEqual(['GET']);
    expect((await admin.get<KernelNode>(ksleuth('KernelNode'), name)).metadata.resourceVersion).toBe(written.metadata.resourceVersion);
  });
});
