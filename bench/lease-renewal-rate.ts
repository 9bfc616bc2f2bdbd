/**
 * What limits how fast the leader can renew its Lease (the soak needs ~302,000 renewals for a
 * simulated week): the operator's own LeaderElector renews a Lease on a local control plane
 * (etcd and kube-apiserver only) back to back for some seconds, and the script prints the
 * renewals per second, the latency of one, and the CPU that each process spent per renewal.
 * When the CPU per renewal times the rate is well under one core for every process, the loop
 * waits on the machine's scheduler (each renewal is a chain of wake-ups: this process, the API
 * server, etcd, the API server, this process), not on any one of them.
 *
 *   npx tsx bench/lease-renewal-rate.ts [--seconds 60] [--retry-period-ms 5] [--api-server-arg --enable-priority-and-fairness=false ...]
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { LeaderElector } from '../runtime/leader-election.js';
import { LocalCluster } from '../test/harness/cluster.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    'retry-period-ms': { type: 'string', default: '5' },
    'api-server-arg': { type: 'string', multiple: true, default: [] },
  },
});
const seconds = Number(values.seconds);
const retryPeriodMs = Number(values['retry-period-ms']);

/** The process below `root` (the component's process group leader) whose command line has `name`. */
async function binaryBelow(root: number, name: string): Promise<number> {
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if ((await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0')[0]?.endsWith(name)) return pid;
    const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
    queue.push(...children.split(' ').filter(Boolean).map(Number));
  }
  throw new Error(`no ${name} below pid ${root}`);
}

/** CPU seconds (user + system) a process has used so far. */
async function cpuSeconds(pid: number | 'self'): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const cluster = await LocalCluster.start({ controllerManager: false, kwok: false, installCrds: false, apiServerArgs: values['api-server-arg'] });
try {
  const pids = cluster.pids();
  const processes = {
    'kube-apiserver': await binaryBelow(pids['kube-apiserver']!, 'kube-apiserver'),
    etcd: await binaryBelow(pids.etcd!, 'etcd'),
    'this process': 'self' as const,
  };
  let renewals = 0;
  const client = cluster.client();
  const original = client.request.bind(client);
  client.request = (async (method: string, path: string, options?: object) => {
    const result = await original(method, path, options);
    if (method === 'PUT') renewals++;
    return result;
  }) as typeof client.request;
  const elector = new LeaderElector({
    client,
    namespace: 'default',
    name: 'renewal-rate',
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs,
  });
  const stop = new AbortController();
  const running = elector.run(stop.signal);
  while (!elector.isLeader) await sleep(50);
  await sleep(3000);
  const before = Object.fromEntries(await Promise.all(Object.entries(processes).map(async ([name, pid]) => [name, await cpuSeconds(pid)] as const)));
  const startRenewals = renewals;
  const start = performance.now();
  await sleep(seconds * 1000);
  const elapsed = (performance.now() - start) / 1000;
  const done = renewals - startRenewals;
  const after = Object.fromEntries(await Promise.all(Object.entries(processes).map(async ([name, pid]) => [name, await cpuSeconds(pid)] as const)));
  stop.abort();
  await running;
  const [load] = (await readFile('/proc/loadavg', 'utf8')).split(' ');
  console.log(
    `retry period ${retryPeriodMs} ms, API server args [${values['api-server-arg'].join(' ')}], load average ${load} on this machine:\n` +
      `  ${done} renewals in ${elapsed.toFixed(0)} s: ${(done / elapsed).toFixed(1)} per s, ${((elapsed * 1000) / done).toFixed(1)} ms each (retry period included)`,
  );
  for (const name of Object.keys(processes)) {
    const cpu = after[name]! - before[name]!;
    console.log(`  ${name.padEnd(15)} ${((cpu * 1000) / done).toFixed(2).padStart(6)} ms CPU per renewal, ${(cpu / elapsed).toFixed(2)} cores`);
  }
} finally {
  await cluster.stop();
}
