/**
 * Idle cost of the agent as users run it: the agent image, installed by helm with the chart's
 * real-node values, in its container on the local cluster's real node, with no capture running.
 * Prints the agent process's resident memory (anonymous and file-backed), its container's memory
 * cgroup usage and its CPU use over a measuring window. Targets: RSS ≤ 60 MB, CPU ≤ 5 millicores.
 * Needs root; the first run builds the control plane and the images.
 *
 *   npx tsx bench/agent-idle-container.ts [--seconds 120]
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, promisify } from 'node:util';
import { core } from '../lib/kube/resources.js';
import { LocalCluster } from '../test/harness/cluster.js';
import { cgroupHierarchies, podCgroup } from '../test/harness/node-host.js';
import { projectRoot } from '../lib/paths.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '120' } } });
const seconds = Number(values.seconds);
const ticksPerSecond = Number((await run('getconf', ['CLK_TCK'])).stdout.trim());

interface Pod {
  metadata: { uid: string; name: string };
  status?: { phase?: string };
}

function agentPid(podDir: string): number {
  for (const dir of readdirSync(podDir, { withFileTypes: true }).filter((e) => e.isDirectory())) {
    for (const pid of readFileSync(join(podDir, dir.name, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter(Boolean)) {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('/app/dist/node-agent/main.js')) return Number(pid);
    }
  }
  throw new Error(`no agent process in ${podDir}`);
}

function sample(pid: number) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]);
  return { cpuTicks: Number(fields[11]) + Number(fields[12]), rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), hwm: kb('VmHWM') };
}

const started = Date.now();
const cluster = await LocalCluster.start({ realNode: { images: true }, installCrds: false });
try {
  console.log(
    `real node ${cluster.node!.name} Ready in ${(cluster.node!.startupMs / 1000).toFixed(1)}s (cluster and images: ${((Date.now() - started) / 1000).toFixed(1)}s)`,
  );
  await run(
    cluster.binaries.helm,
    [
      'install',
      'ksleuth',
      join(projectRoot, 'charts', 'ksleuth'),
      '--namespace',
      'ksleuth-system',
      '--create-namespace',
      '--values',
      join(projectRoot, 'charts', 'ksleuth', 'ci', 'real-node-values.yaml'),
      '--wait',
      '--timeout',
      '180s',
      '--kubeconfig',
      cluster.kubeconfigPath,
    ],
    {
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(cluster.dir, 'helm'),
        HELM_CONFIG_HOME: join(cluster.dir, 'helm'),
        HELM_DATA_HOME: join(cluster.dir, 'helm'),
      },
    },
  );
  const pods = await cluster.client().list<Pod>(core.pods('ksleuth-system'), { labelSelector: 'app.kubernetes.io/component=agent' });
  const pod = pods.items[0]!;
  const pid = agentPid(podCgroup(pod.metadata.uid)!);
  const memoryRoot = cgroupHierarchies().find((h) => h.endsWith('/memory') || h === '/sys/fs/cgroup')!;
  const memoryDir = podCgroup(pod.metadata.uid, memoryRoot)!;
  // Past start-up: registration, the first heartbeat, the kernel log read to its end.
  await sleep(30_000);
  const before = sample(pid);
  await sleep(seconds * 1000);
  const after = sample(pid);
  const usage = (() => {
    for (const file of ['memory.usage_in_bytes', 'memory.current']) {
      try {
        return Number(readFileSync(join(memoryDir, file), 'utf8')) / 1024 / 1024;
      } catch {}
    }
    return Number.NaN;
  })();
  const millicores = ((after.cpuTicks - before.cpuTicks) / ticksPerSecond / seconds) * 1000;
  console.log(`agent pod ${pod.metadata.name}, idle ${seconds}s after 30s of start-up:`);
  console.log(
    `  RSS ${(after.rss / 1024).toFixed(1)} MB (anonymous ${(after.anon / 1024).toFixed(1)} MB, file-backed ${(after.file / 1024).toFixed(1)} MB), peak ${(after.hwm / 1024).toFixed(1)} MB`,
  );
  console.log(`  pod memory cgroup usage ${usage.toFixed(1)} MB`);
  console.log(`  CPU ${millicores.toFixed(2)} millicores`);
} finally {
  await run(cluster.binaries.helm, ['uninstall', 'ksleuth', '--namespace', 'ksleuth-system', '--wait', '--kubeconfig', cluster.kubeconfigPath], {
    env: { ...process.env, HELM_CACHE_HOME: join(cluster.dir, 'helm'), HELM_CONFIG_HOME: join(cluster.dir, 'helm'), HELM_DATA_HOME: join(cluster.dir, 'helm') },
  }).catch(() => undefined);
  await cluster.stop();
}
