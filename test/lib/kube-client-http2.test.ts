import { getEventListeners } from 'node:events';
import { beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../lib/kube/client.js';
import { connectionsTo, opened } from '../harness/connections.js';
import { useCluster } from '../helpers/cluster.js';

/*
 * The client against the real API server, which offers HTTP/2 in ALPN as every kube-apiserver
 * does: what is asserted is what the kernel sees (this process's TCP connections to the server)
 * and what the server answers.
 */

const cluster = useCluster({ controllerManager: false, kwok: false });
const namespace = 'http2-test';
const configMaps = { group: '', version: 'v1', plural: 'configmaps', namespace };
const namespaces = { group: '', version: 'v1', plural: 'namespaces' };
let port: number;

beforeAll(async () => {
  port = Number(new URL(cluster().server).port);
  await cluster()
    .client()
    .create(namespaces, { metadata: { name: namespace } });
});

describe('KubeClient over HTTP/2 against the API server', () => {
  it('carries three watches and twenty concurrent requests on one connection; HTTP/1.1 needs one per request in flight', async () => {
    const h2 = KubeClient.load(cluster().kubeconfigPath, 'http2-test', undefined, { protocol: 'auto' });
    const h1 = KubeClient.load(cluster().kubeconfigPath, 'http1-test', undefined, { protocol: 'http/1.1' });
    const stop = new AbortController();
    try {
      for (const client of [h2, h1]) {
        const start = await connectionsTo(port);
        for (const ref of [namespaces, configMaps, { ...configMaps, plural: 'services' }]) {
          void (async () => {
            for await (const _ of client.watch(ref, { signal: stop.signal }));
          })().catch(() => undefined);
        }
        const answers = await Promise.all(Array.from({ length: 20 }, () => client.get(namespaces, 'default')));
        expect(answers.every((a) => a.metadata.name === 'default')).toBe(true);
        if (client === h2) {
          expect(client.protocol).toBe('h2');
          expect(opened(start, await connectionsTo(port))).toHaveLength(1);
        } else {
          expect(client.protocol).toBe('http/1.1');
          await expect.poll(async () => opened(start, await connectionsTo(port)).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(4);
        }
      }
    } finally {
      stop.abort();
      h2.close();
      h1.close();
    }
  });

  it('opens a second connection when the first carries as many streams as the server allows, instead of holding the request unsent', async () => {
    const client = KubeClient.load(cluster().kubeconfigPath, 'http2-full-test', undefined, { protocol: 'auto' });
    const stop = new AbortController();
    try {
      await client.get(namespaces, 'default');
      let watching = 0;
      client.onRequest((method) => {
        if (method === 'WATCH') watching++;
      });
      const start = await connectionsTo(port);
      // kube-apiserver allows 100 streams per connection (--http2-max-streams-per-connection unset).
      for (let i = 0; i < 100; i++) {
        void (async () => {
          for await (const _ of client.watch(configMaps, { signal: stop.signal }));
        })().catch(() => undefined);
      }
      await expect.poll(() => watching, { timeout: 60_000 }).toBe(100);
      const answer = await client.request<{ metadata: { name: string } }>('GET', '/api/v1/namespaces/default', { timeoutMs: 20_000 });
      expect(answer.metadata.name).toBe('default');
      expect(opened(start, await connectionsTo(port))).toHaveLength(1);
    } finally {
      stop.abort();
      client.close();
    }
  });

  it('delivers watch events on the shared connection; an aborted watch ends and leaves no listener, and the connection goes on serving', async () => {
    const client = KubeClient.load(cluster().kubeconfigPath, 'http2-test', undefined, { protocol: 'auto' });
    const start = await connectionsTo(port);
    const lifetime = new AbortController();
    const watch = new AbortController();
    try {
      const list = await client.list(configMaps);
      const events = client.watch(configMaps, { resourceVersion: list.metadata.resourceVersion, signal: watch.signal });
      const seen: string[] = [];
      const consumed = (async () => {
        for await (const event of events) {
          seen.push(`${event.type} ${event.object.metadata.name}`);
        }
      })();
      for (let i = 0; i < 30; i++) await client.get(namespaces, namespace, undefined);
      await client.request('POST', `/api/v1/namespaces/${namespace}/configmaps`, { body: { metadata: { name: 'one' } }, signal: lifetime.signal });
      await expect.poll(() => seen, { timeout: 15_000 }).toContain('ADDED one');
      watch.abort();
      await consumed;
      expect(getEventListeners(watch.signal, 'abort')).toHaveLength(0);
      // A finished stream closes a tick or two after its last byte.
      await expect.poll(() => getEventListeners(lifetime.signal, 'abort').length, { timeout: 2000 }).toBe(0);
      expect((await client.get(namespaces, namespace)).metadata.name).toBe(namespace);
      expect(opened(start, await connectionsTo(port))).toHaveLength(1);
    } finally {
      client.close();
    }
  });

  it('fails a request that gets no answer in time without harming the others on the connection', async () => {
    const client = KubeClient.load(cluster().kubeconfigPath, 'http2-test', undefined, { protocol: 'auto' });
    try {
      // A watch is a request the server holds open: with a timeout it must fail, not hang.
      await expect(client.request('GET', `/api/v1/namespaces/${namespace}/configmaps?watch=true`, { timeoutMs: 300 })).rejects.toThrow(
        /no answer within 300 ms/,
      );
      expect((await client.get(namespaces, namespace)).metadata.name).toBe(namespace);
    } finally {
      client.close();
    }
  });

  it('streams a large download', async () => {
    const client = KubeClient.load(cluster().kubeconfigPath, 'http2-test', undefined, { protocol: 'auto' });
    try {
      const body = await client.download('/openapi/v2', { Accept: 'application/json' });
      let bytes = 0;
      let chunks = 0;
      const parts: Buffer[] = [];
      for await (const chunk of body) {
        bytes += (chunk as Buffer).length;
        chunks++;
        parts.push(chunk as Buffer);
      }
      expect(bytes).toBeGreaterThan(1024 * 1024);
      expect(chunks).toBeGreaterThan(1);
      expect((JSON.parse(Buffer.concat(parts).toString('utf8')) as { swagger: string }).swagger).toBe('2.0');
    } finally {
      client.close();
    }
  });

  it('connects again after the API server restarts', async () => {
    const client = KubeClient.load(cluster().kubeconfigPath, 'http2-test', undefined, { protocol: 'auto' });
    try {
      await client.get(namespaces, namespace);
      await cluster().restartApiServer();
      // The old session died with the server: the request goes out on a new one.
      expect((await client.get(namespaces, namespace)).metadata.name).toBe(namespace);
      expect(client.protocol).toBe('h2');
    } finally {
      client.close();
    }
  });
});
