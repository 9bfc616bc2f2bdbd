// Overflows a listener's accept queue, the way a server that stops accepting does under load: a
// server process listens on PORT and never calls accept(); COUNT clients connect. Once the queue
// holds min(backlog, net.core.somaxconn) + 1 connections, the kernel drops further SYNs (and counts
// ListenOverflows and ListenDrops) and the clients retry them with backoff. Runs until killed.
// usage: node listen-overflow.mjs COUNT PORT
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';

const count = Number(process.argv[2] ?? 200);
const port = Number(process.argv[3] ?? 18090);

if (process.argv[4] === 'server') {
  // Listening, then blocking the event loop for good: the kernel completes handshakes into the
  // accept queue and nothing takes them out.
  createServer().listen({ port, host: '127.0.0.1', backlog: 4096 }, () => {
    process.stdout.write('listening\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  });
} else {
  const server = spawn(process.execPath, [process.argv[1], String(count), String(port), 'server'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = () => {
    server.kill('SIGKILL');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  server.stdout.once('data', () => {
    const held = [];
    for (let i = 0; i < count; i++) {
      const client = connect(port, '127.0.0.1');
      client.on('error', () => {});
      held.push(client);
    }
    console.log(`connecting ${held.length}`);
  });
  setInterval(() => {}, 1 << 30);
}
