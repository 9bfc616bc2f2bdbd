import { getEventListeners } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../lib/kube/client.js';

let server: Server;
let client: KubeClient;
/** Requests the server holds without answering (to test aborting one in flight). */
const held: (() => void)[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url?.startsWith('/hold')) {
      held.push(() => res.end('{}'));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"kind":"Lease"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = new KubeClient({ server: new URL(`http://127.0.0.1:${port}`), tls: { rejectUnauthorized: true }, token: async () => undefined });
});

afterAll(async () => {
  for (const answer of held) answer();
  client.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('KubeClient and the caller’s abort signal', () => {
  it('leaves no listener on a long-lived signal once each request has finished (a leader elector renews with one signal for months)', async () => {
    const lifetime = new AbortController();
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning.name);
    };
    process.on('warning', onWarning);
    try {
      for (let renewal = 0; renewal < 30; renewal++) {
        await client.request('GET', '/apis/coordination.k8s.io/v1/namespaces/ksleuth/leases/ksleuth-operator', { signal: lifetime.signal });
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(getEventListeners(lifetime.signal, 'abort')).toHaveLength(0);
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('leaves no listener behind when a request fails either', async () => {
    const lifetime = new AbortController();
    const refused = new KubeClient({ server: new URL('http://127.0.0.1:1'), tls: { rejectUnauthorized: true }, token: async () => undefined });
    for (let attempt = 0; attempt < 5; attempt++) {
      await expect(refused.request('GET', '/api/v1/nodes', { signal: lifetime.signal })).rejects.toThrow(/ECONNREFUSED/);
    }
    refused.close();
    // A failed request closes a few ticks after its error.
    await expect.poll(() => getEventListeners(lifetime.signal, 'abort').length, { timeout: 1000 }).toBe(0);
  });

  it('still aborts a request in flight when the signal aborts', async () => {
    const stop = new AbortController();
    const pending = client.request('GET', '/hold/lease', { signal: stop.signal });
    await expect.poll(() => held.length).toBe(1);
    stop.abort();
    await expect(pending).rejects.toThrow(/aborted/);
  });
});
