/**
 * A real controller process for the leader-election and shutdown tests: a Manager with leader
 * election, an informer on the ConfigMaps of one namespace, and a controller that stamps each
 * ConfigMap with the identity that reconciled it. Annotations on a ConfigMap steer the reconcile:
 * `test/sleep-ms` makes it slow, `test/stray-rejection` leaves an unhandled promise rejection.
 *
 * Configured by environment: KUBECONFIG, NAMESPACE, IDENTITY, LEASE_MS, RENEW_MS, RETRY_MS.
 * Prints one JSON line {"port": n} to stdout once started.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeClient, type KubeObject } from '../../lib/kube/client.js';
import { isNotFound } from '../../lib/kube/errors.js';
import { parseKey } from '../../runtime/keys.js';
import { Manager } from '../../runtime/manager.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`manager-process: set ${name}`);
  return value;
};

const namespace = env('NAMESPACE');
const identity = env('IDENTITY');
const client = KubeClient.load(env('KUBECONFIG'), identity);
const ref = { group: '', version: 'v1', plural: 'configmaps', namespace };

const manager = new Manager({
  client,
  name: 'runtime-test',
  health: { port: 0, host: '127.0.0.1' },
  shutdownTimeoutMs: 20_000,
  leaderElection: {
    namespace,
    name: 'runtime-test',
    identity,
    leaseDurationMs: Number(env('LEASE_MS')),
    renewDeadlineMs: Number(env('RENEW_MS')),
    retryPeriodMs: Number(env('RETRY_MS')),
  },
});

const configMaps = manager.informer<KubeObject>({ resource: ref });
const controller = manager.controller({
  name: 'stamp',
  workers: 2,
  reconcile: async (key) => {
    const object = configMaps.store.get(key);
    if (!object) return;
    const annotations = object.metadata.annotations ?? {};
    if (annotations['test/stamped-by']) return;
    if (annotations['test/stray-rejection']) void Promise.reject(new Error('a stray rejection nobody awaits'));
    const sleepMs = Number(annotations['test/sleep-ms'] ?? 0);
    if (sleepMs > 0) await sleep(sleepMs);
    await client
      .patch(ref, parseKey(key).name, { metadata: { annotations: { 'test/stamped-by': identity, 'test/stamped-at': new Date().toISOString() } } })
      .catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
  },
});
controller.watch(configMaps);

const started = manager.start();
void started.then(() => process.stdout.write(`${JSON.stringify({ port: manager.healthPort })}\n`));
await manager.runUntilSignal();
