import { beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../lib/kube/client.js';
import { connectionsTo, opened } from '../harness/connections.js';
import { useCluster } from '../helpers/cluster.js';

/*
 * An API server behind a load balancer is told to send GOAWAY on a share of requests
 * (--goaway-chance, at most 1 in 50) so clients spread over its replicas: the client must open a
 * new connection for new requests while the watches on the old one go on to their end.
 */

const cluster = useCluster({ controllerManager: false, kwok: false, apiServerArgs: ['--goaway-chance=0.02'] });
const namespace = 'goaway-test';
const configMaps = { group: '', version: 'v1', plural: 'configmaps', namespace };
const namespaces = { group: '', version: 'v1', plural: 'namespaces' };

beforeAll(async () => {
  await cluster()
    .client()
    .create(namespaces, { metadata: { name: namespace } });
});

describe('KubeClient over HTTP/2 when the API server sends GOAWAY', () => {
  it('moves requests to a new connection, loses none, and the watch on the old connection still gets its events', async () => {
    const port = Number(new URL(cluster().server).port);
    const client = KubeClient.load(cluster().kubeconfigPath, 'goaway-test', undefined, { protocol: 'auto' });
    const stop = new AbortController();
    try {
      const start = await connectionsTo(port);
      const list = await client.list(configMaps);
      const seen: string[] = [];
      const watch = (async () => {
        for await (const event of client.watch(configMaps, { resourceVersion: list.metadata.resourceVersion, signal: stop.signal })) {
          seen.push(`${event.type} ${event.object.metadata.name}`);
        }
      })();
      const first = opened(start, await connectionsTo(port));
      expect(first).toHaveLength(1);
      // At 1 in 50, a GOAWAY comes within 1,000 requests but for a chance of 2e-9.
      let requests = 0;
      let moved = false;
      while (!moved && requests < 1000) {
        await client.get(namespaces, namespace);
        requests++;
        moved = opened(start, await connectionsTo(port)).some((p) => !first.includes(p));
      }
      expect(moved).toBe(true);
      // The old connection stays open for the watch.
      expect(opened(start, await connectionsTo(port))).toContain(first[0]);
      await client.create(configMaps, { metadata: { name: `after-goaway` } });
      await expect.poll(() => seen, { timeout: 15_000 }).toContain('ADDED after-goaway');
      stop.abort();
      await watch;
      // With its last stream gone, the drained connection closes.
      await expect.poll(async () => opened(start, await connectionsTo(port)).includes(first[0]!), { timeout: 15_000 }).toBe(false);
    } finally {
      stop.abort();
      client.close();
    }
  });
});
