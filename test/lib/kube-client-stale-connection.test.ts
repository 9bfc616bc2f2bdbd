import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createSecureServer } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../../lib/kube/client.js';
import { servingCertificate } from '../../node-agent/agent/tls.js';

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

describe('KubeClient when the server drops a connection before the TLS handshake ends', () => {
  it.each(['http/1.1', 'auto'] as const)('sends the request again on a new connection, for any verb: nothing had gone out (%s)', async (protocol) => {
    const dir = await mkdtemp(join(tmpdir(), 'ksleuth-tls-cut-'));
    const { cert, key } = await servingCertificate(dir, 'localhost');
    let answered = 0;
    const tlsServer = createSecureServer({ cert, key, allowHTTP1: true }, (req, res) => {
      answered++;
      req.resume();
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ kind: 'Namespace', metadata: { name: 'default' } }));
    });
    // Every other new connection is cut before the handshake, as an overloaded API server does.
    let accepted = 0;
    const front = createNetServer((socket) => {
      if (accepted++ % 2 === 0) {
        socket.destroy();
        return;
      }
      tlsServer.emit('connection', socket);
    });
    server = front as unknown as Server;
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const url = new URL(`https://127.0.0.1:${(front.address() as AddressInfo).port}`);
    const client = new KubeClient({ server: url, tls: { rejectUnauthorized: false }, token: async () => undefined }, 'test', protocol);
    try {
      await client.patch({ group: '', version: 'v1', plural: 'namespaces' }, 'default', { metadata: { labels: { a: 'b' } } });
      client.close();
      await client.get({ group: '', version: 'v1', plural: 'namespaces' }, 'default');
      expect(answered).toBe(2);
      expect(accepted).toBe(4);
      expect(client.protocol).toBe(protocol === 'auto' ? 'h2' : 'http/1.1');
    } finally {
      client.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
