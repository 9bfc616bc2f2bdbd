import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../../lib/kube/client.js';

/*
 * A loopback HTTP server stands in for the API server here: the race it reproduces (the server
 * closes an idle keep-alive connection just as the client sends on it) cannot be provoked on
 * demand in a real API server, but it is what a busy one does to agents that write rarely.
 */
let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** Answers the first request on each connection; drops the connection when a second one arrives on it. */
async function closesReusedConnections(): Promise<{ url: URL; seen: () => number }> {
  let seen = 0;
  const perSocket = new WeakMap<Socket, number>();
  server = createServer((req, res) => {
    seen++;
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    if (n > 1) {
      req.socket.destroy();
      return;
    }
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ kind: 'Namespace', metadata: { name: 'default' } }));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), seen: () => seen };
}

describe('KubeClient on a keep-alive connection the server closed', () => {
  it('sends the request again on a fresh connection, for any verb', async () => {
    const { url, seen } = await closesReusedConnections();
    const client = new KubeClient({ server: url, tls: { rejectUnauthorized: true }, token: async () => undefined });
    await client.get({ group: '', version: 'v1', plural: 'namespaces' }, 'default');
    await client.patch({ group: '', version: 'v1', plural: 'namespaces' }, 'default', { metadata: { labels: { a: 'b' } } });
    await client.get({ group: '', version: 'v1', plural: 'namespaces' }, 'default');
    // each request after the first went out on the reused connection, was dropped, and was sent again
    expect(seen()).toBe(5);
    client.close();
  });
});
