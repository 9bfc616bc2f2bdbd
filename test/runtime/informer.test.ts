import { request } from 'node:http';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeClient, KubeObject, ResourceRef } from '../../lib/kube/client.js';
import { core, ksleuth } from '../../lib/kube/resources.js';
import { Informer, type InformerOptions } from '../../runtime/informer.js';
import { labelIndex } from '../../runtime/store.js';
import { useCluster } from '../helpers/cluster.js';
import { DeliveryLog, TcpProxy, clientVia, eventually, sameVersions, versions } from './helpers.js';

const cluster = useCluster({ controllerManager: false, kwok: false });
const quiet = pino({ level: 'silent' });
const configMaps = (namespace: string): ResourceRef => ({ group: '', version: 'v1', plural: 'configmaps', namespace });

const running: Informer<KubeObject>[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((informer) => informer.stop()));
});

function start(options: Partial<InformerOptions<KubeObject>> & { resource: ResourceRef }): { informer: Informer<KubeObject>; log: DeliveryLog } {
  const informer = new Informer<KubeObject>({ client: cluster().client(), log: quiet, backoff: { initialMs: 100, maxMs: 1000, jitter: 0.2 }, ...options });
  const log = new DeliveryLog(informer);
  running.push(informer);
  informer.start();
  return { informer, log };
}

/** Creates a namespace and returns its configmaps, which the tests watch. */
async function namespace(name: string): Promise<ResourceRef> {
  await cluster().client().create(core.namespaces, { metadata: { name } });
  return configMaps(name);
}

function configMap(name: string, labels: Record<string, string> = { app: 'informer-test' }, data: Record<string, string> = {}) {
  return { metadata: { name, labels }, data };
}

/** Waits until the informer's store holds exactly what the server lists (by resourceVersion). */
async function converged(informer: Informer<KubeObject>, client: KubeClient, resource: ResourceRef, labelSelector?: string): Promise<void> {
  let server = new Map<string, string | undefined>();
  await eventually(
    `${informer.name} to converge`,
    async () => {
      server = versions((await client.listAll<KubeObject>(resource, { labelSelector })).items);
      return sameVersions(server, versions(informer.store.list()));
    },
    30_000,
    () => `server ${JSON.stringify([...server])} store ${JSON.stringify([...versions(informer.store.list())])}`,
  );
}

/** The etcd v3 JSON gateway on the cluster's etcd client port. */
function etcd<T>(path: string, body: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: cluster().ports.etcdClient, path, method: 'POST', headers: { 'Content-Type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) >= 300) reject(new Error(`etcd ${path}: ${res.statusCode} ${text}`));
          else resolve(JSON.parse(text) as T);
        });
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const base64 = (text: string) => Buffer.from(text).toString('base64');

describe('Informer against a real API server', () => {
  it('lists in pages, then converges under creates, updates and deletes, honouring the label selector', async () => {
    const client = cluster().client();
    const ref = await namespace('inf-converge');
    for (let i = 0; i < 5; i++) await client.create(ref, configMap(`pre-${i}`, { app: 'informer-test', group: i % 2 ? 'odd' : 'even' }));
    await client.create(ref, configMap('unlabelled', {}));

    const { informer, log } = start({ resource: ref, labelSelector: 'app=informer-test', pageSize: 2, indexers: { group: labelIndex('group') } });
    await informer.synced;
    expect(informer.hasSynced).toBe(true);
    expect([...informer.store.keys()].sort()).toEqual([
      'inf-converge/pre-0',
      'inf-converge/pre-1',
      'inf-converge/pre-2',
      'inf-converge/pre-3',
      'inf-converge/pre-4',
    ]);
    expect(informer.store.keysByIndex('group', 'odd').sort()).toEqual(['inf-converge/pre-1', 'inf-converge/pre-3']);
    expect(informer.store.get('inf-converge/pre-0')?.kind).toBe('ConfigMap');
    // managedFields are dropped to save memory; the server has them.
    expect((await client.get<KubeObject>(ref, 'pre-0')).metadata.managedFields).toBeDefined();
    expect(informer.store.get('inf-converge/pre-0')?.metadata.managedFields).toBeUndefined();

    for (let i = 0; i < 3; i++) await client.create(ref, configMap(`new-${i}`));
    await client.patch(ref, 'pre-0', { data: { changed: 'yes' } });
    await client.patch(ref, 'pre-1', { metadata: { labels: { group: 'even' } } });
    await client.delete(ref, 'pre-2');
    await client.delete(ref, 'new-1');
    await client.patch(ref, 'pre-3', { metadata: { labels: { app: 'something-else' } } });
    await client.create(ref, configMap('still-unlabelled', {}));

    await converged(informer, client, ref, 'app=informer-test');
    expect(informer.store.list().filter((o) => o.metadata.managedFields)).toEqual([]);
    expect(informer.store.has('inf-converge/unlabelled')).toBe(false);
    expect(informer.store.has('inf-converge/pre-3')).toBe(false);
    expect(informer.store.keysByIndex('group', 'odd')).toEqual([]);
    expect(log.problems()).toEqual([]);
    expect(sameVersions(log.held(), versions(informer.store.list()))).toBe(true);
    const deleted = log.deliveries
      .filter((d) => d.type === 'delete')
      .map((d) => d.key)
      .sort();
    expect(deleted).toEqual(['inf-converge/new-1', 'inf-converge/pre-2', 'inf-converge/pre-3']);
    expect(informer.stats).toMatchObject({ lists: 1, relists: 0 });
  });

  it('watches only what a field selector picks', async () => {
    const client = cluster().client();
    const ref = await namespace('inf-field');
    await client.create(ref, configMap('picked'));
    await client.create(ref, configMap('other'));
    const { informer, log } = start({ resource: ref, fieldSelector: 'metadata.name=picked' });
    await informer.synced;
    expect([...informer.store.keys()]).toEqual(['inf-field/picked']);
    await client.patch(ref, 'other', { data: { x: '1' } });
    await client.patch(ref, 'picked', { data: { x: '1' } });
    await eventually('the update of picked', () => log.deliveries.some((d) => d.type === 'update'));
    expect(log.deliveries.map((d) => `${d.type} ${d.key}`)).toEqual(['add inf-field/picked', 'update inf-field/picked']);
  });

  it('replays the store as adds to handlers added after the sync', async () => {
    const client = cluster().client();
    const ref = await namespace('inf-late');
    await client.create(ref, configMap('one'));
    await client.create(ref, configMap('two'));
    const { informer } = start({ resource: ref });
    await informer.synced;
    const late: string[] = [];
    informer.addHandlers({ onAdd: (o) => late.push(o.metadata.name!) });
    expect(late.sort()).toEqual(['one', 'two']);
  });

  it('resumes from the last resourceVersion when the server ends a watch normally, without a re-list', async () => {
    const client = cluster().client();
    const ref = await namespace('inf-resume');
    const { informer, log } = start({ resource: ref, watchTimeoutSeconds: 2 });
    await informer.synced;
    for (let round = 0; round < 3; round++) {
      const restarts = informer.stats.watchRestarts;
      await client.create(ref, configMap(`round-${round}`));
      await eventually('the server to end the watch', () => informer.stats.watchRestarts > restarts, 15_000);
    }
    await client.patch(ref, 'round-0', { data: { after: 'restarts' } });
    await converged(informer, client, ref);
    expect(informer.stats.relists).toBe(0);
    expect(informer.stats.lists).toBe(1);
    expect(log.problems()).toEqual([]);
  });

  it('restarts a silent watch after the stall timeout and resumes it without a re-list', async () => {
    const client = cluster().client();
    const ref = await namespace('inf-stall');
    const { informer } = start({ resource: ref, stallTimeoutMs: 300 });
    await informer.synced;
    await eventually('three stalls', () => informer.stats.stalls >= 3, 15_000);
    expect(informer.stats.watchRestarts).toBeGreaterThanOrEqual(3);
    await client.create(ref, configMap('after-stalls'));
    await eventually('the object created after the stalls', () => informer.store.has('inf-stall/after-stalls'), 10_000);
    expect(informer.stats.relists).toBe(0);
  });

  it('keeps the store and handlers exact across a real API server restart (KernelNode custom resources)', async () => {
    const client = cluster().client();
    const ref = ksleuth('KernelNode');
    const node = (name: string) => ({ apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelNode', metadata: { name, labels: { test: 'restart' } }, spec: {} });
    for (let i = 0; i < 4; i++) await client.create(ref, node(`restart-${i}`));
    const { informer, log } = start({ resource: ref, labelSelector: 'test=restart' });
    await informer.synced;
    await converged(informer, client, ref, 'test=restart');
    const before = log.deliveries.length;

    // Changes right before the crash: the informer may or may not see them before it goes down.
    await client.patch(ref, 'restart-0', { metadata: { annotations: { step: 'before-restart' } } });
    await client.delete(ref, 'restart-1');
    await cluster().restartApiServer(500);
    await client.create(ref, node('restart-new'));
    await client.patch(ref, 'restart-2', { metadata: { annotations: { step: 'after-restart' } } });

    await converged(informer, client, ref, 'test=restart');
    expect(log.problems()).toEqual([]);
    expect(sameVersions(log.held(), versions(informer.store.list()))).toBe(true);
    // Only what changed is delivered: restart-3 did not change, so it was not delivered again.
    const after = log.since(before);
    expect(after.map((d) => `${d.type} ${d.key}`).sort()).toEqual(['add restart-new', 'delete restart-1', 'update restart-0', 'update restart-2']);
    expect(informer.stats.watchRestarts).toBeGreaterThanOrEqual(1);
    console.info(`after the API server restart: ${JSON.stringify(informer.stats)}`);
  });

  it('re-lists on 410 Gone after etcd compaction and delivers the missed changes as synthetic events', async () => {
    const admin = cluster().client();
    const ref = await namespace('inf-gone');
    const other = await namespace('inf-gone-other');
    for (const name of ['keep', 'change', 'remove']) await admin.create(ref, configMap(name));

    const proxy = await TcpProxy.start(cluster().ports.apiServer);
    const viaProxy = clientVia(cluster().kubeConfig(), `https://127.0.0.1:${proxy.port}`, 'informer-gone-test');
    try {
      const { informer, log } = start({ resource: ref, client: viaProxy });
      await informer.synced;
      await converged(informer, admin, ref);
      const seenVersion = Number(informer.lastResourceVersion);
      const before = log.deliveries.length;

      // Partition the informer from the API server and change things behind its back.
      proxy.cut();
      await admin.patch(ref, 'change', { data: { changed: 'while partitioned' } });
      await admin.delete(ref, 'remove');
      await admin.create(ref, configMap('added'));
      await admin.create(other, configMap('unrelated'));

      // Compact etcd up to now, so the informer's resourceVersion is gone from etcd itself...
      const { header } = await etcd<{ header: { revision: string } }>('/v3/kv/range', {
        key: base64('/registry/'),
        range_end: base64('/registry0'),
        count_only: true,
      });
      await etcd('/v3/kv/compaction', { revision: header.revision, physical: true });
      await expect(
        etcd('/v3/kv/range', { key: base64('/registry/'), range_end: base64('/registry0'), count_only: true, revision: String(seenVersion) }),
      ).rejects.toThrow(/compacted/);
      // ...and restart the API server, so its watch cache does not hold it either.
      await cluster().restartApiServer();
      proxy.restore();

      await eventually(
        'a re-list',
        () => informer.stats.relists >= 1,
        30_000,
        () => JSON.stringify(informer.stats),
      );
      await converged(informer, admin, ref);
      expect(informer.stats.relists).toBe(1);
      expect(informer.stats.lists).toBe(2);
      const synthetic = log.since(before);
      expect(synthetic.map((d) => `${d.type} ${d.key}`).sort()).toEqual(['add inf-gone/added', 'delete inf-gone/remove', 'update inf-gone/change']);
      expect(log.problems()).toEqual([]);
      expect(informer.store.get('inf-gone/change')?.data).toEqual({ changed: 'while partitioned' });
    } finally {
      viaProxy.close();
      await proxy.close();
    }
  });

  it('stops at once when stopped right after the first sync, before its watch is open', async () => {
    const informer = new Informer<KubeObject>({ client: cluster().client(), resource: configMaps('default'), log: quiet });
    informer.start();
    await informer.synced;
    const outcome = await Promise.race([informer.stop().then(() => 'stopped'), new Promise((resolve) => setTimeout(() => resolve('still watching'), 10_000))]);
    expect(outcome).toBe('stopped');
  });

  it('stops cleanly and rejects synced when stopped before the first list', async () => {
    const proxy = await TcpProxy.start(cluster().ports.apiServer);
    proxy.cut();
    const viaProxy = clientVia(cluster().kubeConfig(), `https://127.0.0.1:${proxy.port}`, 'informer-stop-test');
    try {
      const informer = new Informer<KubeObject>({ client: viaProxy, resource: configMaps('default'), log: quiet, backoff: { initialMs: 50, maxMs: 100 } });
      informer.start();
      await eventually('a failed list', () => informer.stats.errors >= 2, 10_000);
      await informer.stop();
      await expect(informer.synced).rejects.toThrow(/stopped before its first list/);
      expect(informer.hasSynced).toBe(false);
    } finally {
      viaProxy.close();
      await proxy.close();
    }
  });
});
