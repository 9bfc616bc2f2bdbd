/**
 * Idle cost of one node agent with the always-on watch running: the compiled agent (as in its
 * image) registered on a local control plane, holding two sysctls, with no capture running, the
 * watch on its shipped intervals. Prints its resident memory and CPU use over a measuring window,
 * what each part of the watch cost (from the agent's own /metrics), and how long a real OOM kill
 * took to show as a finding. Targets: RSS ≤ 60 MB, CPU ≤ 5 millicores.
 *
 * RSS is the agent process's VmRSS (/proc/<pid>/status), read every second: anonymous memory (the
 * V8 heap, malloc, buffers) plus the resident pages of mapped files (mostly the node binary's own
 * code). /proc/<pid>/smaps_rollup splits it into Rss_Anon and Rss_File; the agent's /metrics split
 * the heap. CPU is user + system time of the agent and of the processes it started and reaped
 * (dmesg, where the agent runs without its native addon: KSLEUTH_NATIVE=off in a variant), as the
 * container's cgroup counts it. The bench builds the addon as the image does (hack/build-native.mjs).
 *
 *   npx tsx bench/agent-idle.ts [--seconds 600] [--kernel-log syslog|kmsg|auto] [--no-watch]
 *     [--node /path/to/node] [--variant='--flag ... NAME=value ...' ...]
 * --node picks the Node.js binary: the image has Node.js 24 (hack/images.env), the bench runs on
 * whatever runs it unless told. A variant is the node flags and environment settings the agent
 * runs with (written --variant=..., as it starts with a dash); the default is
 * images/agent.Dockerfile's, and --variant= measures without any.
 * Several variants are measured one after the other on the same control plane (each a fresh
 * agent with an empty state directory), to compare them.
 * --kernel-log syslog reads the log as the chart's unprivileged agent does (syslog(2)).
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

const run = promisify(execFile);
/** The node flags and environment of images/agent.Dockerfile's ENTRYPOINT and ENV. */
const imageVariant = '--jitless --max-semi-space-size=1 --v8-pool-size=1 --optimize-for-size';
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    node: { type: 'string', default: process.execPath },
    variant: { type: 'string', multiple: true, default: [imageVariant] },
    'kernel-log': { type: 'string', default: 'syslog' },
    'no-watch': { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const ticksPerSecond = Number((await run('getconf', ['CLK_TCK'])).stdout.trim());
const nodeVersion = (await run(values.node, ['--version'])).stdout.trim();

interface Variant {
  text: string;
  flags: string[];
  env: Record<string, string>;
}

function parseVariant(text: string): Variant {
  const words = text.split(' ').filter(Boolean);
  const env = Object.fromEntries(words.filter((w) => !w.startsWith('-')).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
  for (const name of Object.keys(env)) if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`--variant ${text}: ${name} is neither a --flag nor NAME=value`);
  return { text, flags: words.filter((w) => w.startsWith('-')), env };
}

/** Counter and histogram sums of the agent's /metrics, by series as printed. */
async function scrape(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const figures = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^((?:ksleuth_watch_[a-z_]+|nodejs_[a-z_]+)(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) figures.set(m[1]!, Number(m[2]));
  }
  return figures;
}

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

interface Sample {
  /** utime + stime of the agent. */
  cpuTicks: number;
  /** cutime + cstime: the children it reaped (dmesg). */
  childTicks: number;
  /** VmRSS = RssAnon + RssFile + RssShmem. */
  rssKb: number;
  /** Anonymous: the V8 heap, malloc arenas, buffers, thread stacks. */
  anonKb: number;
  /** Resident pages of mapped files: mostly the node binary's code and read-only data. */
  fileKb: number;
  hwmKb: number;
}

async function sample(pid: number): Promise<Sample> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return {
    cpuTicks: Number(fields[11]) + Number(fields[12]),
    childTicks: Number(fields[13]) + Number(fields[14]),
    rssKb: kb('VmRSS'),
    anonKb: kb('RssAnon'),
    fileKb: kb('RssFile'),
    hwmKb: kb('VmHWM'),
  };
}

const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`;
const average = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Time to finding: a real OOM kill in a memory cgroup, until the agent counts the oom-kill match. */
async function timeToFinding(healthPort: number): Promise<number> {
  const matches = (figures: Map<string, number>): number =>
    [...figures].filter(([k]) => k.startsWith('ksleuth_watch_kernel_log_matches_total{rule="oom-kill-cgroup"')).reduce((sum, [, v]) => sum + v, 0);
  const before = matches(await scrape(healthPort));
  const killed = await oomKillInCgroup('ksleuth-bench-oom');
  for (;;) {
    if (matches(await scrape(healthPort)) > before) return (Date.now() - killed.at) / 1000;
    if (Date.now() - killed.at > 30_000) throw new Error('the OOM kill did not show within 30 s');
    await sleep(100);
  }
}

async function measure(cluster: LocalCluster, variant: Variant, last: boolean): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), 'ksleuth-idle-'));
  const healthPort = await freePort();
  let agent: ComponentProcess | undefined;
  try {
    agent = await ComponentProcess.start('agent', values.node, [...variant.flags, join(projectRoot, 'dist', 'node-agent', 'main.js')], cluster.logDir, {
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
        ...variant.env,
      },
    });
    const client = cluster.client();
    const registered = Date.now();
    for (;;) {
      const kn = await client.get<KernelNode>(ksleuth('KernelNode'), 'idle-node').catch(() => undefined);
      if (kn?.status?.heartbeatTime && Date.parse(kn.status.heartbeatTime) >= registered - 1000) break;
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
    const samples: Sample[] = [];
    const began = Date.now();
    while (Date.now() - began < seconds * 1000) {
      await sleep(1000);
      samples.push(await sample(pid));
    }
    const end = await sample(pid);
    const elapsed = (Date.now() - began) / 1000;
    const metricsEnd = await scrape(healthPort);
    const millicores = (ticks: number): number => (ticks / ticksPerSecond / elapsed) * 1000;
    const own = millicores(end.cpuTicks - start.cpuTicks);
    const children = millicores(end.childTicks - start.childTicks);
    const rss = samples.map((s) => s.rssKb);
    const anon = samples.map((s) => s.anonKb);
    const file = samples.map((s) => s.fileKb);
    const bytes = (key: string): string => mb((metricsEnd.get(key) ?? 0) / 1024);
    console.log(
      `agent idle over ${elapsed.toFixed(0)} s on Node.js ${nodeVersion}, ${variant.text ? `with ${variant.text}` : 'no node flags'} ` +
        '(heartbeat every 60 s, drift check every 30 s, 2 sysctls held)',
    );
    console.log(
      `  CPU            ${(own + children).toFixed(2)} millicores   target ≤ 5   (agent ${own.toFixed(2)}, the processes it started ${children.toFixed(2)})`,
    );
    console.log(`  RSS average    ${mb(average(rss))}`);
    console.log(`  RSS max        ${mb(Math.max(...rss))}   target ≤ 60 MB   (VmRSS, read every second)`);
    console.log(`    anonymous    average ${mb(average(anon))}, max ${mb(Math.max(...anon))}   (RssAnon: V8 heap, malloc, buffers, stacks)`);
    console.log(`    file-backed  average ${mb(average(file))}, max ${mb(Math.max(...file))}   (RssFile: the pages of the node binary it touched)`);
    console.log(`  RSS peak (HWM) ${mb(end.hwmKb)}   (includes start-up and the kernel probe)`);
    console.log(
      `  V8 at the end  heap used ${bytes('nodejs_heap_size_used_bytes')} of ${bytes('nodejs_heap_size_total_bytes')} ` +
        `(old space ${bytes('nodejs_heap_space_size_used_bytes{space="old"}')}, new space ${bytes('nodejs_heap_space_size_used_bytes{space="new"}')}), ` +
        `external ${bytes('nodejs_external_memory_bytes')}`,
    );
    if (values['no-watch']) return;
    const delta = (key: string): number => (metricsEnd.get(key) ?? 0) - (metricsStart.get(key) ?? 0);
    console.log(`  watch (kernel log via ${values['kernel-log']}), per part over the window:`);
    for (const part of ['kernel-log', 'slab', 'memory', 'pressure', 'tcp', 'trends', 'history']) {
      const cpu = delta(`ksleuth_watch_cpu_seconds_total{part="${part}"}`);
      const count = delta(`ksleuth_watch_samples_total{sampler="${part}",result="ok"}`);
      const wall = delta(`ksleuth_watch_sample_duration_seconds_sum{sampler="${part}"}`);
      console.log(
        `    ${part.padEnd(10)} ${((cpu / elapsed) * 1000).toFixed(3)} millicores` +
          (count > 0 ? `, ${count} samples, ${((cpu / count) * 1000).toFixed(2)} ms CPU and ${((wall / count) * 1000).toFixed(2)} ms wall each` : ''),
      );
    }
    if (last) console.log(`  time to finding (OOM kill in a memory cgroup -> oom-kill match): ${(await timeToFinding(healthPort)).toFixed(2)} s`);
  } finally {
    await agent?.stop(5000);
    await rm(stateDir, { recursive: true, force: true });
  }
}

const variants = values.variant.map(parseVariant);
await run('npx', ['tsc', '-p', join(projectRoot, 'tsconfig.build.json')], { cwd: projectRoot });
await run(process.execPath, [join(projectRoot, 'hack', 'build-native.mjs'), '--required'], { cwd: projectRoot });
const cluster = await LocalCluster.start({ controllerManager: false });
try {
  await cluster.addNodes([{ name: 'idle-node' }]);
  for (const [i, variant] of variants.entries()) await measure(cluster, variant, i === variants.length - 1);
} finally {
  await cluster.stop();
}
