/**
 * What the tcp capture's per-namespace reading costs: one reading is /proc/<pid>/net/{tcp,tcp6,
 * snmp,netstat} of one process in each network namespace (node-agent/captures/tcp/namespaces.ts).
 * Each read of net/tcp walks the kernel's TCP hash, which every namespace shares (unless
 * net.ipv4.tcp_child_ehash_entries gives one its own), so the cost grows with namespaces × the
 * node's sockets. This makes N namespaces, each held by a `sleep` (unshare --net; they go with it),
 * and S established loopback connections in the host's namespace, then times the namespace scan
 * and readings of all of them: with the socket tables (the window's first and last reading) and
 * counters only (the readings between). Needs root.
 *
 *   npx tsx bench/tcp-namespaces.ts [--namespaces 1,16,64,128] [--sockets 0,2000] [--rounds 10]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { findNamespaces, readNamespaces } from '../node-agent/captures/tcp/namespaces.js';
import { namespaceInode } from '../node-agent/engine/netns.js';
import { WorkloadResolver } from '../node-agent/engine/workload.js';

const { values } = parseArgs({
  options: {
    namespaces: { type: 'string', default: '1,16,64,128' },
    sockets: { type: 'string', default: '0,2000' },
    rounds: { type: 'string', default: '10' },
  },
});
const namespaceCounts = values.namespaces.split(',').map(Number);
const socketCounts = values.sockets.split(',').map(Number);
const rounds = Number(values.rounds);

const holders: ChildProcess[] = [];
const sockets: Socket[] = [];
const server = createServer((socket) => sockets.push(socket));

async function holdNamespaces(count: number): Promise<void> {
  while (holders.length < count) {
    const child = spawn('unshare', ['--net', 'sleep', 'infinity'], { stdio: 'ignore' });
    holders.push(child);
  }
  // Wait until each has entered its namespace (unshare execs sleep after unsharing).
  const host = namespaceInode('/proc', process.pid);
  for (const child of holders) while (namespaceInode('/proc', child.pid!) === host || namespaceInode('/proc', child.pid!) === undefined) await sleep(10);
}

async function holdSockets(count: number): Promise<void> {
  const port = (server.address() as { port: number }).port;
  while (sockets.length < count * 2) {
    await new Promise<void>((resolve, reject) => {
      const client = connect(port, '127.0.0.1', () => resolve()).on('error', reject);
      sockets.push(client);
    });
  }
}

async function measure(namespaces: number, socketCount: number): Promise<void> {
  await holdNamespaces(namespaces);
  await holdSockets(socketCount);
  const workloads = new WorkloadResolver();
  const scanStart = process.hrtime.bigint();
  const found = await findNamespaces({ procRoot: '/proc', maxNamespaces: namespaces + 1, workloads });
  const scanMs = Number(process.hrtime.bigint() - scanStart) / 1e6;
  const time = async (sockets: boolean): Promise<{ wallMs: number; cpuMs: number; bytes: number }> => {
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    let bytes = 0;
    for (let r = 0; r < rounds; r++) {
      const reading = await readNamespaces('/proc', found.namespaces, sockets);
      bytes += Object.values(reading).reduce((sum, t) => sum + (t.tcp?.length ?? 0) + (t.tcp6?.length ?? 0) + t.snmp.length + t.netstat.length, 0);
    }
    const used = process.cpuUsage(cpu);
    return { wallMs: Number(process.hrtime.bigint() - start) / 1e6 / rounds, cpuMs: (used.user + used.system) / 1000 / rounds, bytes: bytes / rounds };
  };
  const full = await time(true);
  const counters = await time(false);
  const n = found.namespaces.length;
  console.log(
    `${String(n).padStart(4)} namespaces, ${String(socketCount).padStart(5)} host connections: scan ${scanMs.toFixed(0)} ms; ` +
      `reading with socket tables ${full.wallMs.toFixed(0)} ms wall, ${full.cpuMs.toFixed(0)} ms CPU (${(full.cpuMs / n).toFixed(1)} ms per namespace, ${(full.bytes / 1024).toFixed(0)} KiB kept); ` +
      `counters only ${counters.wallMs.toFixed(1)} ms wall, ${counters.cpuMs.toFixed(1)} ms CPU (${(counters.cpuMs / n).toFixed(2)} ms per namespace)`,
  );
}

try {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const ehash = await readFile('/proc/sys/net/ipv4/tcp_ehash_entries', 'utf8').catch(() => '?');
  console.log(
    `tcp capture, per-namespace reading cost (${rounds} readings each; TCP hash ${ehash.trim()} buckets; this machine's own processes add their namespaces)`,
  );
  for (const socketCount of socketCounts) for (const n of namespaceCounts) await measure(n, socketCount);
} finally {
  for (const child of holders) child.kill('SIGKILL');
  for (const socket of sockets) socket.destroy();
  server.close();
}
