/**
 * Fan-out benchmark: a kwok cluster with N simulated nodes (default 1000) and as many node agents —
 * the real Kubernetes-side agent code, all in this process, with a stand-in capture runner — and
 * the real operator as its own process. Applies one investigation across all nodes and prints:
 * time from the captures ending until the parent is Completed, API writes per node, the parent's
 * size, and the operator's peak memory. Targets: ≤ 60 s, a constant number of writes per node,
 * < 256 KiB, < 150 MB.
 *
 *   npx tsx bench/investigation-fanout.ts [--nodes 1000] [--duration 10]
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import type { KernelCapture, KernelInvestigation } from '../api/v1alpha1/resources.js';
import { KubeClient } from '../lib/kube/client.js';
import { ksleuth } from '../lib/kube/resources.js';
import { LocalCluster } from '../test/harness/cluster.js';
import { ComponentProcess } from '../test/harness/component.js';
import { freePort } from '../test/harness/ports.js';
import { operatorServiceAccount, systemNamespace } from '../test/harness/ksleuth-system.js';
import { projectRoot } from '../lib/paths.js';
import { Agent } from '../node-agent/agent/agent.js';
import type { AgentConfig } from '../node-agent/agent/config.js';
import type { NodeFacts } from '../node-agent/engine/probe.js';
import { loadAllowList } from '../lib/sysctl/allowlist-load.js';
import { standInMemoryCapture } from './stand-in-capture.js';
import { fakeNodeFacts } from '../test/node-agent/fake-facts.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { nodes: { type: 'string', default: '1000' }, duration: { type: 'string', default: '10' } } });
const nodeCount = Number(values.nodes);
const durationSeconds = Number(values.duration);
const silent = pino({ level: 'silent' });

function figure(name: string, value: string, target = ''): void {
  console.log(`${name.padEnd(44)} ${value.padEnd(14)} ${target}`);
}

function facts(node: string): NodeFacts {
  return fakeNodeFacts({
    hostname: node,
    kernelVersion: `6.1.${node.endsWith('7') ? 90 : 55}-bench`,
    osImage: 'Bench Linux',
    bootId: `boot-${node}`,
    readableFiles: new Set(['/proc/meminfo']),
  });
}

async function peakRss(rootPid: number): Promise<number> {
  // The operator runs as node under tsx under supervise.sh: take the largest peak RSS in the tree.
  const { stdout } = await run('ps', ['-e', '-o', 'pid=,ppid=']);
  const children = new Map<number, number[]>();
  for (const line of stdout.trim().split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number) as [number, number];
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  let peak = 0;
  const walk = async (pid: number): Promise<void> => {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024);
    for (const child of children.get(pid) ?? []) await walk(child);
  };
  await walk(rootPid);
  return peak;
}

async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

console.log(`fan-out benchmark: ${nodeCount} nodes, captures of ${durationSeconds}s\n`);
// No controller manager: its node-lifecycle controller would mark nodes NotReady whenever kwok's
// heartbeats lag on this small machine, and nothing here needs garbage collection.
const cluster = await LocalCluster.start({ controllerManager: false, apiServerArgs: ['--max-requests-inflight=1000', '--max-mutating-requests-inflight=500'] });
const stateRoot = join(cluster.dir, 'bench-agents');
const agents: Agent[] = [];
let operator: ComponentProcess | undefined;
try {
  const names = Array.from({ length: nodeCount }, (_, i) => `bench-${String(i).padStart(4, '0')}`);
  let t = Date.now();
  await cluster.addNodes(names.map((name, i) => ({ name, labels: { pool: 'bench', zone: `zone-${i % 3}` } })));
  await cluster.waitForNodesReady(names, 300_000);
  console.log(`  ${nodeCount} kwok nodes Ready in ${((Date.now() - t) / 1000).toFixed(1)}s`);

  // The operator runs compiled, as in its image (npm run build).
  await run('npx', ['tsc', '-p', join(projectRoot, 'tsconfig.build.json')], { cwd: projectRoot });
  const healthPort = await freePort();
  operator = await ComponentProcess.start(
    'operator',
    process.execPath,
    [join(projectRoot, 'dist', 'operator', 'main.js'), '--kubeconfig', cluster.kubeconfigPath, '--health-port', String(healthPort)],
    cluster.logDir,
    {
      env: { ...process.env, KSLEUTH_LOG_LEVEL: 'warn' },
    },
  );

  // The agents' own API traffic, by kind of request.
  const agentWrites = { captureStatus: 0, kernelNode: 0, other: 0 };
  const allowList = await loadAllowList();
  t = Date.now();
  await forEachLimited(names, 50, async (node) => {
    const client = KubeClient.load(cluster.kubeconfigPath, 'ksleuth-agent-bench');
    client.onRequest((method, path) => {
      if (method === 'GET' || method === 'WATCH') return;
      if (path.includes('/kernelcaptures/')) agentWrites.captureStatus++;
      else if (path.includes('/kernelnodes')) agentWrites.kernelNode++;
      else agentWrites.other++;
    });
    const stateDir = join(stateRoot, node);
    await mkdir(stateDir, { recursive: true });
    const config: AgentConfig = {
      nodeName: node,
      operatorIdentity: `system:serviceaccount:${systemNamespace}:${operatorServiceAccount}`,
      stateDir,
      artifactDir: join(stateDir, 'artifacts'),
      artifactPort: 0,
      artifactMaxBytes: 1024 ** 3,
      artifactMaxAgeSeconds: 3600,
      healthPort: 0,
      maxConcurrentCaptures: 2,
      heartbeatSeconds: 600,
      driftCheckSeconds: 600,
      hostRoot: '/',
      procRoot: '/proc',
      // A thousand in-process stand-in agents share one machine: the watch would read its kernel a thousand times over.
      watch: false,
      watchConfig: [],
      kernelLog: 'auto',
      nodeConditions: false,
      allowCustomPrograms: false,
      allowlistExtra: [],
    };
    agents.push(await Agent.start({ config, client, standIn: { facts: facts(node), modules: { memory: standInMemoryCapture } }, allowList, log: silent }));
  });
  console.log(`  ${nodeCount} agents registered in ${((Date.now() - t) / 1000).toFixed(1)}s`);
  const admin = cluster.client();
  await cluster.kubectl(['wait', '--for=jsonpath={.status.agentVersion}', '--timeout=120s', 'kernelnode', names[0]!]);
  const writesBefore = { ...agentWrites };

  const metrics = async (): Promise<Map<string, number>> => {
    const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    const out = new Map<string, number>();
    for (const m of text.matchAll(/^ksleuth_api_requests_total\{method="(\w+)",code="(\d+)"\} (\d+)/gm))
      out.set(`${m[1]} ${m[2]}`, (out.get(`${m[1]} ${m[2]}`) ?? 0) + Number(m[3]));
    return out;
  };
  const operatorWrites = (m: Map<string, number>): number => [...m].filter(([k]) => !/^(GET|WATCH) /.test(k)).reduce((n, [, v]) => n + v, 0);
  await admin.list(ksleuth('KernelNode'), { limit: 1 });
  const operatorBefore = operatorWrites(await metrics());

  const applied = Date.now();
  await admin.create(ksleuth('KernelInvestigation'), {
    apiVersion: 'ksleuth.io/v1alpha1',
    kind: 'KernelInvestigation',
    metadata: { name: 'fleet' },
    spec: {
      nodes: { selector: { matchLabels: { pool: 'bench' } }, maxNodes: 5000 },
      durationSeconds,
      deadlineSeconds: durationSeconds + 600,
      captures: [{ memory: {} }],
      compareBy: { kernelVersion: true },
    },
  });
  let investigation: KernelInvestigation;
  let firstCreated = 0;
  for (;;) {
    investigation = await admin.get<KernelInvestigation>(ksleuth('KernelInvestigation'), 'fleet');
    if (!firstCreated && investigation.status?.startTime) firstCreated = Date.now();
    if (investigation.status?.phase === 'Completed' || investigation.status?.phase === 'Failed') break;
    if (Date.now() - applied > 900_000) throw new Error('the investigation did not complete within 15 minutes');
    await sleep(250);
  }
  const completed = Date.now();
  const captures = (await admin.listAll<KernelCapture>(ksleuth('KernelCapture'), { fieldSelector: 'spec.investigation=fleet' })).items;
  const lastCaptureEnd = Math.max(...captures.map((c) => Date.parse(c.status?.completionTime ?? '0')));
  const lastCreated = Math.max(...captures.map((c) => Date.parse(String(c.metadata.creationTimestamp))));
  const lastStarted = Math.max(...captures.map((c) => Date.parse(c.status?.startTime ?? '0')));
  const after = await metrics();
  const operatorDelta = operatorWrites(after) - operatorBefore;
  const agentDelta = agentWrites.captureStatus - writesBefore.captureStatus;
  const parentBytes = Buffer.byteLength(JSON.stringify(investigation));
  const peak = await peakRss(operator.pid);

  console.log('');
  figure('nodes / captures', `${nodeCount} / ${captures.length}`);
  figure(
    'phase',
    `${investigation.status?.phase} ${investigation.status?.progress}`,
    `(${investigation.status?.conditions?.find((c) => c.type === 'Complete')?.message})`,
  );
  if (captures.length < nodeCount) {
    const { stdout } = await cluster.kubectl([
      'get',
      'events',
      '-n',
      'default',
      '--field-selector',
      'involvedObject.name=fleet,reason=NodesLeftOut',
      '-o',
      'jsonpath={.items[*].message}',
    ]);
    figure('nodes left out', String(nodeCount - captures.length), stdout);
  }
  figure('apply → fan-out started', `${((firstCreated - applied) / 1000).toFixed(1)} s`);
  figure('apply → last KernelCapture created', `${((lastCreated - applied) / 1000).toFixed(1)} s`, '(creation timestamps have 1 s resolution)');
  figure('apply → last capture started by its agent', `${((lastStarted - applied) / 1000).toFixed(1)} s`);
  figure('apply → completed', `${((completed - applied) / 1000).toFixed(1)} s`);
  figure('last capture ended → parent completed', `${((completed - lastCaptureEnd) / 1000).toFixed(1)} s`, 'target ≤ 60 s');
  figure('operator API writes per node', (operatorDelta / captures.length).toFixed(2), `(${operatorDelta} in all: creates + status writes)`);
  figure('agent API writes per node', (agentDelta / captures.length).toFixed(2), `(${agentDelta} KernelCapture status writes)`);
  figure('parent object size', `${(parentBytes / 1024).toFixed(1)} KiB`, 'target < 256 KiB');
  figure('operator peak RSS', `${(peak / 1024 / 1024).toFixed(0)} MB`, 'target < 150 MB');
  figure('findings in the parent', `${investigation.status?.findings?.length}`, `(${investigation.status?.findingCount} distinct)`);
  console.log(`\noperator write requests by method/code: ${JSON.stringify(Object.fromEntries([...after].filter(([k]) => !/^(GET|WATCH) /.test(k))))}`);
} finally {
  await Promise.all(agents.map((a) => a.stop().catch(() => undefined)));
  await operator?.stop(5000);
  await cluster.stop();
  await rm(stateRoot, { recursive: true, force: true });
}
