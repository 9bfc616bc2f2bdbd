import { beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../lib/kube/client.js';
import { connectionsTo, opened } from '../harness/connections.js';
import { useCluster } from '../helpers/cluster.js';

/*
 * An API server that offers no HTTP/2 in ALPN (--disable-http2-serving; also what some
 * TLS-terminating proxies in front of API servers do): the client speaks HTTP/1.1 to it.
 */

const cluster = useCluster({ controllerManager: false, kwok: false, apiServerArgs: ['--disable-http2-serving'] });
const namespace = 'fallback-test';
const configMaps = { group: '', version: 'v1', plural: 'configmaps', namespace };
const namespaces = { group: '', version: 'v1', plural: 'namespaces' };

beforeAll(async () => {
  await cluster()
    .client()
    .create(namespaces, { metadata: { name: namespace } });
});

describe('KubeClient against an API server without HTTP/2', () => {
  it('falls back to HTTP/1.1: requests and watches work, one connection per request in flight', async () => {
    const port = Number(new URL(cluster().server).port);
    const client = KubeClient.load(cluster().kubeconfigPath, 'fallback-test', undefined, { protocol: 'auto' });
    const stop = new AbortController();
    try {
      const start = await connectionsTo(port);
      const list = await client.list(configMaps);
      expect(client.protocol).toBe('http/1.1');
      const seen: string[] = [];
      const watches = [configMaps, { ...configMaps, plural: 'services' }].map((ref) =>
        (async () => {
          for await (const event of client.watch(ref, { resourceVersion: list.metadata.resourceVersion, signal: stop.signal })) {
            seen.push(`${event.type} ${event.object.metadata.name}`);
          }
        })(),
      );
      await client.create(configMaps, { metadata: { name: 'over-http1' } });
      await expect.poll(() => seen, { timeout: 15_000 }).toContain('ADDED over-http1');
      expect(opened(start, await connectionsTo(port)).length).toBeGreaterThanOrEqual(3);
      stop.abort();
      await Promise.all(watches);
    } finally {
      stop.abort();
      client.close();
    }
  });
});
