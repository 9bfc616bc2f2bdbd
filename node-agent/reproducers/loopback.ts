import type { AddressInfo, Server } from 'node:net';

/** Starts `server` on an ephemeral port of 127.0.0.1 (reproducer traffic never leaves loopback); resolves to the port. */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve);
  });
  return (server.address() as AddressInfo).port;
}

/** Closes the server once its last connection is gone. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
