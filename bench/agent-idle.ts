/**
 * Idle cost of one node agent with the always-on watch running: the compiled agent (as in its
 * image) registered on a local control plane, holding two sysctls, with no capture running, the
 * watch on its shipped intervals. Prints its resident memory and CPU use over a measuring window,
 * what each part of the watch cost (from the agent's own /metrics), and how long a real OOM kill
 * took to show as a finding. Targets: RSS ≤ 60 MB, CPU ≤ 5 millicores.
 *
 *   npx tsx bench/agent-idle.ts [--seconds 600] [--kernel-log syslog|kmsg|auto] [--no-watch] [--node-flags '...']
 * The node flags default to those of images/agent.Dockerfile; --node-flags= measures without them.
 * --kernel-log syslog reads the log as the chart's unprivileged agent does (dmesg --syslog).
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
import { freePort } from '../test/harness/ports.js';
import { oomKillInCgroup } from '../test/helpers/oom.js';

/** Counter and histogram sums of the agent's /metrics, by series as printed. */
async function scrape(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(ksleuth_watch_[a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) values.set(m[1]!, Number(m[2]));
  }
  return values;
}

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    'node-flags': { type: 'string', default: '--jitless --max-semi-space-size=1 --v8-pool-size=1' },
    'kernel-log': { type: 'string', default: 'syslog' },
    'no-watch': { type: 'boolean', default: false },
  },
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
    // Node.js 22 and later name their main thread, and so the process, MainThread.
    if (row?.[2] === 'node' || row?.[2] === 'MainThread') return pid;
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
const healthPort = await freePort();
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
      KSLEUTH_HEALTH_PORT: String(healthPort),
      KSLEUTH_LOG_LEVEL: 'warn',
      KSLEUTH_KERNEL_LOG: values['kernel-log'],
      KSLEUTH_WATCH: values['no-watch'] ? 'false' : 'true',
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
  const metricsStart = await scrape(healthPort);
  const rss: number[] = [];
  const began = Date.now();
  while (Date.now() - began < seconds * 1000) {
    await sleep(1000);
    rss.push((await sample(pid)).rssKb);
  }
  const end = await sample(pid);
  const elapsed = (Date.now() - began) / 1000;
  const metricsEnd = await scrape(healthPort);
  const millicores = ((end.cpuTicks - start.cpuTicks) / ticksPerSecond / elapsed) * 1000;
  const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`;
  console.log(
    `agent idle over ${elapsed.toFixed(0)} s (heartbeat every 60 s, drift check every 30 s, 2 sysctls held${nodeFlags.length ? `, node ${nodeFlags.join(' ')}` : ''})`,
  );
  console.log(`  CPU            ${millicores.toFixed(2)} millicores   target ≤ 5`);
  console.log(`  RSS average    ${mb(rss.reduce((a, b) => a + b, 0) / rss.length)}`);
  console.log(`  RSS max        ${mb(Math.max(...rss))}   target ≤ 60 MB`);
  console.log(`  RSS peak (HWM) ${mb(end.hwmKb)}   (includes start-up and the kernel probe)`);
  if (!values['no-watch']) {
    const delta = (key: string): number => (metricsEnd.get(key) ?? 0) - (metricsStart.get(key) ?? 0);
    console.log(`  watch (kernel log via ${values['kernel-log']}), per part over the window:`);
    for (const part of ['kernel-log', 'slab', 'memory', 'pressure', 'tcp', 'trends', 'history']) {
      const cpu = delta(`ksleuth_watch_cpu_seconds_total{part="${part}"}`);
      const samples = delta(`ksleuth_watch_samples_total{sampler="${part}",result="ok"}`);
      const wall = delta(`ksleuth_watch_sample_duration_seconds_sum{sampler="${part}"}`);
      console.log(
        `    ${part.padEnd(10)} ${((cpu / elapsed) * 1000).toFixed(3)} millicores` +
          (samples > 0 ? `, ${samples} samples, ${((cpu / samples) * 1000).toFixed(2)} ms CPU and ${((wall / samples) * 1000).toFixed(2)} ms wall each` : ''),
      );
    }
    // Time to finding: a real OOM kill in a memory cgroup, until the agent counts the raised finding.
    const raisedKey = 'ksleuth_watch_findings_raised_total{pattern="oom-kill",severity="warning",source="kernel-log"}';
    const key = [...(await scrape(healthPort)).keys()].find((k) => k.startsWith('ksleuth_watch_kernel_log_matches_total{rule="oom-kill-cgroup"'));
    const before = key ? ((await scrape(healthPort)).get(key) ?? 0) : 0;
    const killed = await oomKillInCgroup('ksleuth-bench-oom');
    for (;;) {
      const now = await scrape(healthPort);
      const matched = [...now].find(([k]) => k.startsWith('ksleuth_watch_kernel_log_matches_total{rule="oom-kill-cgroup"'))?.[1] ?? 0;
      if (matched > before || (now.get(raisedKey) ?? 0) > 0) break;
      if (Date.now() - killed.at > 30_000) throw new Error('the OOM kill did not show within 30 s');
      await sleep(100);
    }
    console.log(`  time to finding (OOM kill in a memory cgroup -> oom-kill match): ${((Date.now() - killed.at) / 1000).toFixed(2)} s`);
  }
} finally {
  await agent?.stop(5000);
  await cluster.stop();
  await rm(stateDir, { recursive: true, force: true });
}
