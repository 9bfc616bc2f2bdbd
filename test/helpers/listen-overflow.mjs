// Overflows a listener's accept queue, the way a server that stops accepting does under load: a
// server process listens on PORT and never calls accept(); COUNT clients connect. Once the queue
// holds min(backlog, net.core.somaxconn) + 1 connections, the kernel drops further SYNs (and counts
// ListenOverflows and ListenDrops) and the clients retry them with backoff. With NEW_PER_SECOND,
// new clients keep arriving (each given up after 3 s), so drops go on at a steady rate whenever a
// capture looks. Prints "connecting N" once the clients are started; runs until killed.
// usage: node listen-overflow.mjs COUNT PORT [NEW_PER_SECOND]
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';

const count = Number(process.argv[2] ?? 200);
const port = Number(process.argv[3] ?? 18090);
const perSecond = Number(process.argv[4] ?? 0);

if (process.env.LISTEN_OVERFLOW_ROLE === 'server') {
  // Listening, then blocking the event loop for good: the kernel completes handshakes into the
  // accept queue and nothing takes them out.
  createServer().listen({ port, host: '127.0.0.1', backlog: 4096 }, () => {
    process.stdout.write('listening\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  });
} else {
  const server = spawn(process.execPath, [process.argv[1], String(count), String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LISTEN_OVERFLOW_ROLE: 'server' },
  });
  const stop = () => {
    server.kill('SIGKILL');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const client = () => connect(port, '127.0.0.1').on('error', () => {});
  server.stdout.once('data', () => {
    const held = Array.from({ length: count }, client);
    if (perSecond > 0) {
      setInterval(() => {
        const late = client();
        setTimeout(() => late.destroy(), 3000);
      }, 1000 / perSecond);
    }
    console.log(`connecting ${held.length}`);
  });
  setInterval(() => {}, 1 << 30);
}
