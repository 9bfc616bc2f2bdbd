/**
 * Idle cost of one node agent: the compiled agent (as in its image) registered on a local control
 * plane, holding two sysctls, with no capture running. Prints its resident memory and CPU use over
 * a measuring window. Targets: RSS ≤ 60 MB, CPU ≤ 5 millicores.
 *
 *   npx tsx bench/agent-idle.ts [--seconds 120] [--node-flags '...']
 * The node flags default to those of images/agent.Dockerfile; --node-flags= measures without them.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KernelNode } from '../api/v1alpha1/resources.js';
import { ksleuth } from '../lib/kube/resources.js';
import { LocalCluster } from '../test/harness/cluster.js';
import { ComponentProcess } from '../test/harness/component.js';
import { projectRoot } from '../lib/paths.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '120' }, 'node-flags': { type: 'string', default: '--jitless --max-semi-space-size=1 --v8-pool-size=1' } },
});
const nodeFlags = values['node-flags'].split(' ').filter(Boolean);
const seconds = Number(values.seconds);
const ticksPerSecond = Number((await run('getconf', ['CLK_TCK'])).stdout.trim());

async function nodePid(rootPid: number): Promise<number> {
  const { stdout } = await run('ps', ['-e', '-o', 'pid=,ppid=,comm=']);
  const rows = stdout
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/)) as [string, string, string][];
  let pid = rootPid;
  for (let depth = 0; depth < 5; depth++) {
    const row = rows.find(([p]) => Number(p) === pid);
    if (row?.[2] === 'node') return pid;
    const child = rows.find(([, ppid]) => Number(ppid) === pid);
    if (!child) break;
    pid = Number(child[0]);
  }
  throw new Error('could not find the agent process');
}

async function sample(pid: number): Promise<{ cpuTicks: number; rssKb: number; hwmKb: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return {
    cpuTicks: Number(fields[11]) + Number(fields[12]),
    rssKb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]),
    hwmKb: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]),
  };
}

await run('npx', ['tsc', '-p', join(projectRoot, 'tsconfig.build.json')], { cwd: projectRoot });
const cluster = await LocalCluster.start({ controllerManager: false });
const stateDir = await mkdtemp(join(tmpdir(), 'ksleuth-idle-'));
let agent: ComponentProcess | undefined;
try {
  await cluster.addNodes([{ name: 'idle-node' }]);
  agent = await ComponentProcess.start('agent', process.execPath, [...nodeFlags, join(projectRoot, 'dist', 'node-agent', 'main.js')], cluster.logDir, {
    env: {
      ...process.env,
      NODE_NAME: 'idle-node',
      KUBECONFIG: cluster.kubeconfigPath,
      KSLEUTH_STATE_DIR: stateDir,
      KSLEUTH_ARTIFACT_PORT: '0',
      KSLEUTH_HEALTH_PORT: '0',
      KSLEUTH_LOG_LEVEL: 'warn',
    },
  });
  const client = cluster.client();
  for (;;) {
    const kn = await client.get<KernelNode>(ksleuth('KernelNode'), 'idle-node').catch(() => undefined);
    if (kn?.status?.heartbeatTime) break;
    if (!agent.running) throw await agent.failure();
    await sleep(500);
  }
  // Something to hold, as on a node with mitigations: two sysctls (read back every drift check).
  await client.patch(ksleuth('KernelNode'), 'idle-node', {
    spec: {
      sysctls: [
        {
          name: 'net.ipv4.tcp_keepalive_time',
          value: (await readFile('/proc/sys/net/ipv4/tcp_keepalive_time', 'utf8')).trim(),
          mitigation: 'bench',
          revertPolicy: 'Keep',
          dryRun: true,
        },
        { name: 'vm.swappiness', value: (await readFile('/proc/sys/vm/swappiness', 'utf8')).trim(), mitigation: 'bench', revertPolicy: 'Keep', dryRun: true },
      ],
    },
  });
  const pid = await nodePid(agent.pid);
  await sleep(20_000);
  const start = await sample(pid);
  const rss: number[] = [];
  const began = Date.now();
  while (Date.now() - began < seconds * 1000) {
    await sleep(1000);
    rss.push((await sample(pid)).rssKb);
  }
  const end = await sample(pid);
  const elapsed = (Date.now() - began) / 1000;
  const millicores = ((end.cpuTicks - start.cpuTicks) / ticksPerSecond / elapsed) * 1000;
  const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`;
  console.log(
    `agent idle over ${elapsed.toFixed(0)} s (heartbeat every 60 s, drift check every 30 s, 2 sysctls held${nodeFlags.length ? `, node ${nodeFlags.join(' ')}` : ''})`,
  );
  console.log(`  CPU            ${millicores.toFixed(2)} millicores   target ≤ 5`);
  console.log(`  RSS average    ${mb(rss.reduce((a, b) => a + b, 0) / rss.length)}`);
  console.log(`  RSS max        ${mb(Math.max(...rss))}   target ≤ 60 MB`);
  console.log(`  RSS peak (HWM) ${mb(end.hwmKb)}   (includes start-up and the kernel probe)`);
} finally {
  await agent?.stop(5000);
  await cluster.stop();
  await rm(stateDir, { recursive: true, force: true });
}
