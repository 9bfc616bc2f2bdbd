import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject, ResourceRef } from '../../lib/kube/client.js';
import { core, ksleuth } from '../../lib/kube/resources.js';
import { TerminalError, ownerKeys } from '../../runtime/controller.js';
import { EventRecorder } from '../../runtime/events.js';
import { parseKey } from '../../runtime/keys.js';
import { Manager } from '../../runtime/manager.js';
import { useCluster } from '../helpers/cluster.js';
import { TcpProxy, clientVia, eventually } from './helpers.js';
import { parsePrometheusText } from './promcheck.js';

const cluster = useCluster({ controllerManager: false, kwok: false });
const quiet = pino({ level: 'silent' });
const configMaps = (namespace: string): ResourceRef => ({ group: '', version: 'v1', plural: 'configmaps', namespace });

interface CoreEvent extends KubeObject {
  involvedObject: { kind?: string; name?: string; namespace?: string; uid?: string };
  reason: string;
  message: string;
  type: string;
  count: number;
  source: { component?: string };
  firstTimestamp: string;
  lastTimestamp: string;
}

const managers: Manager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.stop()));
});

function get(port: number, path: string): Promise<{ status: number; body: string; type?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function eventsAbout(namespace: string, name: string): Promise<CoreEvent[]> {
  const list = await cluster()
    .client()
    .list<CoreEvent>(core.events(namespace), { fieldSelector: `involvedObject.name=${name}` });
  return list.items;
}

describe('Manager: controllers, /metrics, /healthz, /readyz', () => {
  it('reconciles through informers, maps children to owners, and reports counts that parse as Prometheus text', async () => {
    const client = cluster().client();
    await client.create(core.namespaces, { metadata: { name: 'mgr' } });
    const ref = configMaps('mgr');
    const manager = new Manager({ client, name: 'mgr-test', health: { port: 0, host: '127.0.0.1' }, log: quiet });
    managers.push(manager);
    const informer = manager.informer<KubeObject>({ resource: ref });
    const reconciled: string[] = [];
    const controller = manager.controller({
      name: 'owners',
      reconcile: async (key) => {
        reconciled.push(key);
        if (parseKey(key).name.startsWith('bad')) throw new TerminalError('bad spec');
      },
    });
    // Parents reconcile for themselves; children (owned by a parent) enqueue their parent's key.
    controller.watch(informer, { map: (o) => (o.metadata.ownerReferences?.length ? ownerKeys('ConfigMap')(o) : [`mgr/${o.metadata.name}`]) });

    await manager.start();
    const port = manager.healthPort!;
    expect((await get(port, '/healthz')).status).toBe(200);
    expect(await get(port, '/readyz')).toMatchObject({ status: 200, body: 'ok\n' });

    const parent = await client.create<KubeObject>(ref, { metadata: { name: 'parent' } });
    await client.create(ref, {
      metadata: { name: 'child', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'parent', uid: parent.metadata.uid!, controller: true }] },
    });
    await client.create(ref, { metadata: { name: 'bad-one' } });
    await eventually('parent and bad-one to be reconciled', () => reconciled.includes('mgr/parent') && reconciled.includes('mgr/bad-one'));
    const parentReconciles = reconciled.filter((k) => k === 'mgr/parent').length;
    await client.patch(ref, 'child', { data: { poke: '1' } });
    await eventually('the child change to reconcile its parent', () => reconciled.filter((k) => k === 'mgr/parent').length > parentReconciles);
    expect(reconciled).not.toContain('mgr/child');

    const metrics = await get(port, '/metrics');
    expect(metrics.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const families = await parsePrometheusText(metrics.body);
    const value = (name: string, labels: Record<string, string>) =>
      families.find((f) => f.name === name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    const successes = reconciled.filter((k) => k !== 'mgr/bad-one').length;
    expect(value('ksleuth_reconcile_total', { controller: 'owners', result: 'success' })?.value).toBe(successes);
    expect(value('ksleuth_reconcile_total', { controller: 'owners', result: 'terminal_error' })?.value).toBe(1);
    expect(value('ksleuth_reconcile_errors_total', { controller: 'owners' })?.value).toBe(1);
    expect(value('ksleuth_reconcile_duration_seconds', { controller: 'owners' })?.count).toBe(reconciled.length);
    expect(value('ksleuth_workqueue_depth', { controller: 'owners' })?.value).toBe(0);
    expect(value('ksleuth_watch_events_total', { resource: 'configmaps', type: 'ADDED' })?.value).toBe(3);
    expect(families.find((f) => f.name === 'ksleuth_watch_relists_total')?.type).toBe('COUNTER');
    expect(value('ksleuth_build_info', { component: 'mgr-test' })?.value).toBe(1);
    expect(value('process_open_fds', {})?.value).toBeGreaterThan(0);

    await manager.stop();
    expect(await get(port, '/healthz').catch((error: Error) => error.message)).toMatch(/ECONNREFUSED/);
  });

  it('is not ready while an informer cannot sync, and says which', async () => {
    const proxy = await TcpProxy.start(cluster().ports.apiServer);
    proxy.cut();
    const client = clientVia(cluster().kubeConfig(), `https://127.0.0.1:${proxy.port}`, 'not-ready-test');
    const manager = new Manager({ client, name: 'not-ready', health: { port: 0, host: '127.0.0.1' }, log: quiet });
    const informer = manager.informer<KubeObject>({ resource: configMaps('default'), backoff: { initialMs: 50, maxMs: 200 } });
    const started = manager.start();
    try {
      await eventually('the health server', () => manager.healthPort !== undefined);
      await eventually('a failed list', () => informer.stats.errors >= 1);
      const ready = await get(manager.healthPort!, '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toBe('informers: waiting for configmaps to sync\n');
      expect((await get(manager.healthPort!, '/healthz')).status).toBe(200);
      proxy.restore();
      await started;
      expect((await get(manager.healthPort!, '/readyz')).status).toBe(200);
    } finally {
      await manager.stop();
      client.close();
      await proxy.close();
    }
  });

  it('stops during a slow reconcile: finishes it, takes nothing new, and reports not ready meanwhile', async () => {
    const client = cluster().client();
    await client.create(core.namespaces, { metadata: { name: 'mgr-drain' } });
    const ref = configMaps('mgr-drain');
    const manager = new Manager({ client, name: 'drain', health: { port: 0, host: '127.0.0.1' }, log: quiet, shutdownTimeoutMs: 10_000 });
    const informer = manager.informer<KubeObject>({ resource: ref });
    const finished: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const controller = manager.controller({
      name: 'slow',
      workers: 1,
      reconcile: async (key) => {
        if (key === 'mgr-drain/slow') await gate;
        finished.push(key);
      },
    });
    controller.watch(informer);
    await manager.start();
    await client.create(ref, { metadata: { name: 'slow' } });
    await eventually('the slow reconcile to start', () => controller.queue.inFlight === 1);
    await client.create(ref, { metadata: { name: 'queued' } });
    await eventually('queued to be queued', () => controller.queue.depth === 1);

    const stopped = manager.stop();
    await sleep(50);
    expect((await get(manager.healthPort!, '/readyz')).body).toContain('shutdown: shutting down');
    release();
    await stopped;
    expect(finished).toEqual(['mgr-drain/slow']);
  });
});

describe('EventRecorder against a real API server', () => {
  it('writes one Event per repeated occurrence and bumps its count', async () => {
    const client = cluster().client();
    await client.create(core.namespaces, { metadata: { name: 'ev' } });
    const object = await client.create<KubeObject>(configMaps('ev'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'subject' } });
    const recorder = new EventRecorder({ client, component: 'ksleuth-test', host: 'test-host', log: quiet });
    for (let i = 0; i < 4; i++) await recorder.normal(object, 'Reconciled', 'All good');
    await recorder.warning(object, 'Failed', 'Something broke');

    const events = await eventsAbout('ev', 'subject');
    expect(events).toHaveLength(2);
    const reconciled = events.find((e) => e.reason === 'Reconciled')!;
    expect(reconciled).toMatchObject({
      type: 'Normal',
      message: 'All good',
      count: 4,
      source: { component: 'ksleuth-test', host: 'test-host' },
      involvedObject: { kind: 'ConfigMap', name: 'subject', namespace: 'ev', uid: object.metadata.uid },
    });
    expect(Date.parse(reconciled.lastTimestamp)).toBeGreaterThanOrEqual(Date.parse(reconciled.firstTimestamp));
    expect(events.find((e) => e.reason === 'Failed')).toMatchObject({ type: 'Warning', count: 1 });
  });

  it('merges repeats from a new recorder (another process or leader) into the same Event', async () => {
    const client = cluster().client();
    const object = await client.create<KubeObject>(configMaps('ev'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'restarted' } });
    await new EventRecorder({ client, component: 'ksleuth-test', log: quiet }).normal(object, 'Started', 'once');
    await new EventRecorder({ client, component: 'ksleuth-test', log: quiet }).normal(object, 'Started', 'once');
    const events = await eventsAbout('ev', 'restarted');
    expect(events.map((e) => e.count)).toEqual([2]);
  });

  it('puts events about cluster-scoped objects in "default"', async () => {
    const client = cluster().client();
    const node = await client.create<KubeObject>(ksleuth('KernelNode'), {
      apiVersion: 'ksleuth.io/v1alpha1',
      kind: 'KernelNode',
      metadata: { name: 'event-node' },
      spec: {},
    });
    const recorder = new EventRecorder({ client, component: 'ksleuth-test', log: quiet });
    await recorder.warning(node, 'SysctlDrift', 'net.ipv4.tcp_fastopen changed behind our back');
    await recorder.warning(node, 'SysctlDrift', 'net.ipv4.tcp_fastopen changed behind our back');
    const events = await eventsAbout('default', 'event-node');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ count: 2, involvedObject: { kind: 'KernelNode', name: 'event-node', uid: node.metadata.uid } });
    expect(events[0]!.involvedObject.namespace).toBeUndefined();
    expect(() => new EventRecorder({ client, component: 'x', clusterScopedNamespace: 'ksleuth-system' })).toThrow(/only accepts .* in "default"/);
  });

  it('recreates an Event that was deleted (expired) and never throws when writing fails', async () => {
    const client = cluster().client();
    const object = await client.create<KubeObject>(configMaps('ev'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'expiring' } });
    const recorder = new EventRecorder({ client, component: 'ksleuth-test', log: quiet });
    await recorder.normal(object, 'Tick', 'tock');
    const [first] = await eventsAbout('ev', 'expiring');
    await client.delete(core.events('ev'), first!.metadata.name!);
    await recorder.normal(object, 'Tick', 'tock');
    expect((await eventsAbout('ev', 'expiring')).map((e) => e.count)).toEqual([1]);

    // An object in a namespace that does not exist: the API server refuses the Event.
    const ghost: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ghost', namespace: 'no-such-namespace', uid: 'x' } };
    await expect(recorder.warning(ghost, 'Lost', 'nobody will read this')).resolves.toBeUndefined();
  });
});
