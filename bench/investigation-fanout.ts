/**
 * Fan-out benchmark: a kwok cluster with N simulated nodes (default 1000) and as many node agents —
 * the real Kubernetes-side agent code, all in this process, with a stand-in capture runner — and
 * the real operator as its own process. Applies one investigation across all nodes and prints:
 * time from the captures ending until the parent is Completed, API writes per node, the parent's
 * size, and the operator's peak memory. Targets: ≤ 60 s, a constant number of writes per node,
 * < 256 KiB, < 150 MB.
 *
 *   npx tsx bench/investigation-fanout.ts [--nodes 1000] [--duration 10] [--register-concurrency 50] [--protocol http/1.1|auto]
 *     [--operator-node-options '--max-semi-space-size=16']   (default: the ENTRYPOINT's of images/operator.Dockerfile)
 *
 * At 5,000 nodes the bench needs about 1.2 open files per agent in this process (each agent's
 * HTTP/2 connection) and as many in the API server: it checks the limit first. Agents register
 * `--register-concurrency` at a time (each: a TLS handshake, two lists and watches, its
 * KernelNode), with a progress line every 15 s.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
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
import { entrypointNodeOptions } from '../test/harness/images.js';
import { operatorServiceAccount, systemNamespace } from '../test/harness/ksleuth-system.js';
import { projectRoot } from '../lib/paths.js';
import { Agent } from '../node-agent/agent/agent.js';
import type { AgentConfig } from '../node-agent/agent/config.js';
import { loadAllowList } from '../lib/sysctl/allowlist-load.js';
import { standInFacts, standInMemoryCapture } from './stand-in-capture.js';
import { loadAverage, memory, processTree } from './process-stats.js';
import { connectionsTo } from '../test/harness/connections.js';
import { readFile } from 'node:fs/promises';
import type { HttpProtocol } from '../lib/kube/negotiate.js';
import { parsePrometheusText, sumSeries, Timeline, type Sample } from './timeline.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '10' },
    idle: { type: 'string', default: '10' },
    'register-concurrency': { type: 'string', default: '50' },
    protocol: { type: 'string', default: 'http/1.1' },
    'operator-node-options': { type: 'string' },
  },
});
const registerConcurrency = Number(values['register-concurrency']);
if (!(registerConcurrency >= 1)) throw new Error(`--register-concurrency must be a positive number, got ${values['register-concurrency']}`);
if (values.protocol !== 'auto' && values.protocol !== 'http/1.1') throw new Error(`--protocol must be auto or http/1.1, got ${values.protocol}`);
const protocol = values.protocol as HttpProtocol;
const nodeCount = Number(values.nodes);
const durationSeconds = Number(values.duration);
const idleSeconds = Number(values.idle);
const silent = pino({ level: 'silent' });
/** node's options for the operator: its image's, unless given (space-separated; '' for none, to compare). */
const operatorNodeOptions =
  values['operator-node-options'] !== undefined ? values['operator-node-options'].split(' ').filter(Boolean) : await entrypointNodeOptions('operator');

function figure(name: string, value: string, target = ''): void {
  console.log(`${name.padEnd(44)} ${value.padEnd(14)} ${target}`);
}

async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

console.log(
  `fan-out benchmark: ${nodeCount} nodes, captures of ${durationSeconds}s, ${protocol}, operator node options [${operatorNodeOptions.join(' ')}]; load average ${await loadAverage()}\n`,
);
// Each agent holds one connection over HTTP/2 (about four over HTTP/1.1), and the API server one fd per connection too.
const openFiles = Number(/^Max open files\s+(\d+|unlimited)/m.exec(await readFile('/proc/self/limits', 'utf8'))?.[1] ?? 'NaN');
const filesNeeded = Math.ceil(nodeCount * (protocol === 'http/1.1' ? 4.5 : 1.2)) + 1024;
if (openFiles < filesNeeded) {
  throw new Error(
    `${nodeCount} agents need about ${filesNeeded} open files and the limit is ${openFiles}: run \`ulimit -n ${filesNeeded}\` in this shell first`,
  );
}
// No controller manager: its node-lifecycle controller would mark nodes NotReady whenever kwok's
// heartbeats lag on this small machine, and nothing here needs garbage collection.
const cluster = await LocalCluster.start({ controllerManager: false, apiServerArgs: ['--max-requests-inflight=1000', '--max-mutating-requests-inflight=500'] });
const stateRoot = join(cluster.dir, 'bench-agents');
const agents: Agent[] = [];
let operator: ComponentProcess | undefined;
let timeline: Timeline | undefined;
try {
  const names = Array.from({ length: nodeCount }, (_, i) => `bench-${String(i).padStart(4, '0')}`);
  let t = Date.now();
  await cluster.addNodes(names.map((name, i) => ({ name, labels: { pool: 'bench', zone: `zone-${i % 3}` } })));
  await cluster.waitForNodesReady(names, 900_000);
  console.log(`  ${nodeCount} kwok nodes Ready in ${((Date.now() - t) / 1000).toFixed(1)}s`);

  // The operator runs compiled and with its image's node options (npm run build; images/operator.Dockerfile).
  await run('npx', ['tsc', '-p', join(projectRoot, 'tsconfig.build.json')], { cwd: projectRoot });
  const healthPort = await freePort();
  operator = await ComponentProcess.start(
    'operator',
    process.execPath,
    [...operatorNodeOptions, join(projectRoot, 'dist', 'operator', 'main.js'), '--kubeconfig', cluster.kubeconfigPath, '--health-port', String(healthPort)],
    cluster.logDir,
    {
      env: { ...process.env, KSLEUTH_LOG_LEVEL: 'warn' },
    },
  );

  const scrape = async (): Promise<Map<string, number>> =>
    parsePrometheusText(await (await fetch(`http://127.0.0.1:${healthPort}/metrics`, { signal: AbortSignal.timeout(10_000) })).text());
  // From the operator's start, so that the agents' registration (every KernelNode created and reported) is a phase too.
  const pids = cluster.pids();
  timeline = await Timeline.start({
    components: { 'kube-apiserver': pids['kube-apiserver']!, etcd: pids.etcd!, kwok: pids.kwok!, operator: operator.pid },
    self: 'bench (agents)',
    memoryOf: 'operator',
    counters: scrape,
  });
  const registerFrom = Date.now();

  // The agents' own API traffic, by kind of request.
  const agentWrites = { captureStatus: 0, kernelNode: 0, other: 0 };
  let agentRestarts = 0;
  const allowList = await loadAllowList();
  t = Date.now();
  let registered = 0;
  const progress = setInterval(() => {
    const seconds = (Date.now() - t) / 1000;
    void loadAverage().then((load) =>
      console.log(`  ${seconds.toFixed(0)} s: ${registered}/${nodeCount} agents registered (${(registered / seconds).toFixed(1)}/s), load average ${load}`),
    );
  }, 15_000);
  await forEachLimited(names, registerConcurrency, async (node) => {
    const client = KubeClient.load(cluster.kubeconfigPath, 'ksleuth-agent-bench', undefined, { protocol });
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
      // Under the operator's 5-minute staleness limit even when registering 5,000 agents takes half an hour.
      heartbeatSeconds: 240,
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
    // A real agent that cannot start exits and the kubelet starts it again: so does this one.
    for (let attempt = 1; ; attempt++) {
      try {
        agents.push(
          await Agent.start({ config, client, standIn: { facts: standInFacts(node), modules: { memory: standInMemoryCapture } }, allowList, log: silent }),
        );
        registered++;
        break;
      } catch (error) {
        agentRestarts++;
        if (attempt >= 5) throw error;
        console.log(`  agent ${node} could not start (${(error as Error).message}); starting it again`);
        await sleep(1000 * attempt);
      }
    }
  });
  clearInterval(progress);
  const registerTo = Date.now();
  console.log(`  ${nodeCount} agents registered in ${((Date.now() - t) / 1000).toFixed(1)}s${agentRestarts ? ` (${agentRestarts} started again)` : ''}`);
  const agentConnections = (await connectionsTo(Number(new URL(cluster.server).port))).size;
  console.log(`  connections from this process to the API server: ${agentConnections} (${(agentConnections / nodeCount).toFixed(2)} per agent)`);
  const admin = cluster.client();
  await cluster.kubectl(['wait', '--for=jsonpath={.status.agentVersion}', '--timeout=120s', 'kernelnode', names[0]!]);
  const writesBefore = { ...agentWrites };

  const metrics = async (): Promise<Map<string, number>> => {
    const out = new Map<string, number>();
    for (const [series, value] of await scrape()) {
      const m = /^ksleuth_api_requests_total\{method="(\w+)",code="(\d+)"\}$/.exec(series);
      if (m) out.set(`${m[1]} ${m[2]}`, (out.get(`${m[1]} ${m[2]}`) ?? 0) + value);
    }
    return out;
  };
  const idleFrom = Date.now();
  await sleep(idleSeconds * 1000);
  const idleTo = Date.now();
  const operatorWrites = (m: Map<string, number>): number => [...m].filter(([k]) => !/^(GET|WATCH) /.test(k)).reduce((n, [, v]) => n + v, 0);
  await admin.list(ksleuth('KernelNode'), { limit: 1 });
  const operatorBefore = operatorWrites(await metrics());

  const loadAtApply = await loadAverage();
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
  let lastReport = applied;
  for (;;) {
    investigation = await admin.get<KernelInvestigation>(ksleuth('KernelInvestigation'), 'fleet');
    if (!firstCreated && investigation.status?.startTime) firstCreated = Date.now();
    if (Date.now() - lastReport > 30_000) {
      lastReport = Date.now();
      console.log(
        `  ${((lastReport - applied) / 1000).toFixed(0)} s: ${investigation.status?.phase} ${investigation.status?.progress ?? ''} ${JSON.stringify(investigation.status?.captures ?? {})}`,
      );
    }
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
  await timeline.stop();
  const { peak } = await memory(await processTree(operator.pid));
  const benchPeak = (await memory([process.pid])).peak;

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
  figure('benchmark process peak RSS (the agents)', `${(benchPeak / 1024 / 1024).toFixed(0)} MB`);
  figure('findings in the parent', `${investigation.status?.findings?.length}`, `(${investigation.status?.findingCount} distinct)`);
  console.log(`\noperator write requests by method/code: ${JSON.stringify(Object.fromEntries([...after].filter(([k]) => !/^(GET|WATCH) /.test(k))))}`);
  console.log(`load average: ${loadAtApply} at apply, ${await loadAverage()} at the end`);
  printPhases(timeline, [
    ['agents registering', registerFrom, registerTo],
    ['idle (before apply)', idleFrom, idleTo],
    ['fan-out (apply → last created)', applied, lastCreated],
    ['captures (→ last capture ended)', lastCreated, lastCaptureEnd],
    ['aggregation (→ parent Completed)', lastCaptureEnd, completed],
    ['all (apply → Completed)', applied, completed],
  ]);
} finally {
  await timeline?.stop();
  await Promise.all(agents.map((a) => a.stop().catch(() => undefined)));
  await operator?.stop(5000);
  await cluster.stop();
  await rm(stateRoot, { recursive: true, force: true });
}

/** CPU seconds per component, and what the operator did, in each phase of the run. */
function printPhases(timeline: Timeline, phases: [string, number, number][]): void {
  const components = Object.keys(timeline.samples[0]!.cpu);
  const counter =
    (name: string, labels: Record<string, string> = {}) =>
    (s: Sample): number =>
      sumSeries(s.counters, name, labels);
  const resources = ['kernelcaptures.ksleuth.io', 'nodes', 'kernelnodes.ksleuth.io'];
  console.log('\nCPU seconds by phase (2 cores = 2 CPU-seconds per second):');
  console.log(['phase'.padEnd(34), 'secs'.padStart(6), ...components.map((c) => c.padStart(15))].join(''));
  for (const [name, from, to] of phases) {
    const cells = components.map((c) =>
      timeline
        .between(from, to, (s) => s.cpu[c] ?? 0)
        .toFixed(1)
        .padStart(15),
    );
    console.log([name.padEnd(34), ((to - from) / 1000).toFixed(1).padStart(6), ...cells].join(''));
  }
  console.log('\noperator work by phase:');
  console.log(
    [
      'phase'.padEnd(34),
      'kcap events'.padStart(12),
      'node events'.padStart(12),
      'knode events'.padStart(13),
      'reconciles'.padStart(11),
      'in reconcile'.padStart(13),
      'CPU ms/1000 events'.padStart(19),
      'peak RSS'.padStart(9),
      'V8 heap used/total at peak'.padStart(28),
    ].join(''),
  );
  for (const [name, from, to] of phases) {
    const events = resources.map((r) => timeline.between(from, to, counter('ksleuth_watch_events_total', { resource: r })));
    const reconciles = timeline.between(from, to, counter('ksleuth_reconcile_total', { controller: 'investigation' }));
    const inReconcile = timeline.between(from, to, counter('ksleuth_reconcile_duration_seconds_sum'));
    const cpu = timeline.between(from, to, (s) => s.cpu.operator ?? 0);
    const total = events.reduce((a, b) => a + b, 0);
    console.log(
      [
        name.padEnd(34),
        ...events.map((e, i) => e.toFixed(0).padStart(i === 2 ? 13 : 12)),
        reconciles.toFixed(0).padStart(11),
        `${inReconcile.toFixed(2)} s`.padStart(13),
        (total > 0 ? ((cpu * 1e6) / total).toFixed(0) : '-').padStart(19),
        `${(timeline.peakRss(from, to) / 1024 / 1024).toFixed(0)} MB`.padStart(9),
        heapAtPeak(timeline.atPeakRss(from, to)).padStart(28),
      ].join(''),
    );
  }
}

/** The operator's V8 heap (used / total, from its own metrics) when its resident memory peaked: how much of the peak is live objects. */
function heapAtPeak(sample: Sample | undefined): string {
  if (!sample) return '-';
  const mb = (name: string): string => (sumSeries(sample.counters, name) / 1024 / 1024).toFixed(0);
  return `${mb('nodejs_heap_size_used_bytes')} / ${mb('nodejs_heap_size_total_bytes')} MB`;
}
