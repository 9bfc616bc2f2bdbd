/**
 * What the operator alone costs per KernelCapture status update: a local control plane with N
 * Ready nodes and registered KernelNodes but no agents and no kwok heartbeats; the compiled
 * operator fans out one investigation, then this script writes each capture's two statuses
 * (Running, then Succeeded, a finding on every third node) as agents would, from one client.
 * Prints the operator's CPU per 1,000 status updates (its idle CPU subtracted), its reconciles,
 * its peak RSS, and the time from the last write to the parent Completed.
 *
 *   npx tsx bench/operator-status-updates.ts [--nodes 5000] [--operator path/to/dist/operator/main.js]
 * --operator runs another build (say, of main) for a before/after comparison.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KernelCapture, KernelInvestigation } from '../api/v1alpha1/resources.js';
import { apiVersion } from '../api/v1alpha1/common.js';
import { formatTime } from '../lib/conditions.js';
import { core, ksleuth } from '../lib/kube/resources.js';
import { projectRoot } from '../lib/paths.js';
import { LocalCluster, forEachLimited } from '../test/harness/cluster.js';
import { ComponentProcess } from '../test/harness/component.js';
import { freePort } from '../test/harness/ports.js';
import { cpuSeconds, loadAverage, memory, processTree } from './process-stats.js';
import { parsePrometheusText, sumSeries } from './timeline.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { nodes: { type: 'string', default: '5000' }, operator: { type: 'string' } } });
const nodeCount = Number(values.nodes);
const operatorMain = values.operator ?? join(projectRoot, 'dist', 'operator', 'main.js');

function figure(name: string, value: string, note = ''): void {
  console.log(`${name.padEnd(46)} ${value.padEnd(14)} ${note}`);
}

console.log(`operator cost per status update: ${nodeCount} nodes, operator ${operatorMain}; load average ${await loadAverage()}\n`);
const cluster = await LocalCluster.start({
  controllerManager: false,
  kwok: false,
  apiServerArgs: ['--max-requests-inflight=1000', '--max-mutating-requests-inflight=500'],
});
let operator: ComponentProcess | undefined;
try {
  const client = cluster.client();
  const names = Array.from({ length: nodeCount }, (_, i) => `load-${String(i).padStart(4, '0')}`);
  const now = formatTime(new Date());
  await forEachLimited(names, 32, async (name) => {
    await client.create(core.nodes, { metadata: { name, labels: { pool: 'load' } } });
    await client.patch(
      core.nodes,
      name,
      {
        status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ready', lastHeartbeatTime: now, lastTransitionTime: now }] },
      },
      { subresource: 'status' },
    );
    await client.create(ksleuth('KernelNode'), { apiVersion, kind: 'KernelNode', metadata: { name }, spec: {} });
    await client.patch(
      ksleuth('KernelNode'),
      name,
      { status: { kernelVersion: `6.1.${name.endsWith('7') ? 90 : 55}-load`, heartbeatTime: now } },
      { subresource: 'status' },
    );
  });

  if (!values.operator) await run('npx', ['tsc', '-p', join(projectRoot, 'tsconfig.build.json')], { cwd: projectRoot });
  const healthPort = await freePort();
  operator = await ComponentProcess.start(
    'operator',
    process.execPath,
    [operatorMain, '--kubeconfig', cluster.kubeconfigPath, '--health-port', String(healthPort)],
    cluster.logDir,
    { env: { ...process.env, KSLEUTH_LOG_LEVEL: 'warn' } },
  );
  const operatorPids = async (): Promise<number[]> => processTree(operator!.pid);
  const scrape = async (): Promise<Map<string, number>> =>
    parsePrometheusText(await (await fetch(`http://127.0.0.1:${healthPort}/metrics`, { signal: AbortSignal.timeout(10_000) })).text());
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined);
    if (ready?.status === 200) break;
    await sleep(250);
  }

  await client.create<KernelInvestigation>(ksleuth('KernelInvestigation'), {
    apiVersion,
    kind: 'KernelInvestigation',
    metadata: { name: 'load' },
    spec: {
      nodes: { selector: { matchLabels: { pool: 'load' } }, maxNodes: 5000 },
      durationSeconds: 600,
      deadlineSeconds: 3600,
      captures: [{ memory: {} }],
      compareBy: { kernelVersion: true },
    },
  });
  const fanOutStarted = Date.now();
  for (;;) {
    const created = sumSeries(await scrape(), 'ksleuth_api_requests_total', { method: 'POST', code: '201' });
    if (created >= nodeCount) break;
    await sleep(250);
  }
  const fanOutSeconds = (Date.now() - fanOutStarted) / 1000;
  const captures = (await client.listAll<KernelCapture>(ksleuth('KernelCapture'), { fieldSelector: 'spec.investigation=load' })).items;
  await sleep(3000);

  // The operator idle (no changes): what it costs without status updates, over a like span.
  const idleFrom = { at: Date.now(), cpu: await cpuSeconds(await operatorPids()) };
  await sleep(10_000);
  const idle = { seconds: (Date.now() - idleFrom.at) / 1000, cpu: (await cpuSeconds(await operatorPids())) - idleFrom.cpu };

  const before = { at: Date.now(), cpu: await cpuSeconds(await operatorPids()), metrics: await scrape() };
  const write = async (capture: KernelCapture, status: Record<string, unknown>): Promise<void> => {
    await client.patch(ksleuth('KernelCapture'), capture.metadata.name!, { status }, { subresource: 'status' });
  };
  const started = formatTime(new Date());
  await forEachLimited(captures, 32, (c) => write(c, { phase: 'Running', startTime: started, agentVersion: 'bench', kernelVersion: '6.1.55-load' }));
  await forEachLimited(captures, 32, (c) => {
    const node = c.spec.nodeName;
    const findings =
      Number(node.slice(-1)) % 3 === 0
        ? [
            {
              pattern: 'memory-fragmentation',
              severity: node.endsWith('9') ? 'critical' : 'warning',
              title: 'Free memory is fragmented (bench)',
              capture: 'memory',
              evidence: [`${node}: order-3 unusable free space index 0.91 (bench)`],
              recommendation: 'Raise vm.min_free_kbytes (bench).',
              suggestedMitigation: { sysctls: [{ name: 'vm.min_free_kbytes', value: '262144' }] },
            },
          ]
        : [];
    return write(c, {
      phase: 'Succeeded',
      startTime: started,
      completionTime: formatTime(new Date()),
      agentVersion: 'bench',
      kernelVersion: '6.1.55-load',
      results: [{ name: 'memory', kind: 'memory', state: 'Succeeded', summary: { standIn: true } }],
      findingCount: findings.length,
      findings,
    });
  });
  const lastWrite = Date.now();
  let parent: KernelInvestigation;
  for (;;) {
    parent = await client.get<KernelInvestigation>(ksleuth('KernelInvestigation'), 'load');
    if (parent.status?.phase === 'Completed') break;
    if (Date.now() - lastWrite > 600_000) throw new Error(`the investigation did not complete: ${JSON.stringify(parent.status?.captures)}`);
    await sleep(100);
  }
  const completed = Date.now();
  await sleep(2000);
  const after = { at: Date.now(), cpu: await cpuSeconds(await operatorPids()), metrics: await scrape() };
  const { peak } = await memory(await operatorPids());

  const updates = captures.length * 2;
  const events =
    sumSeries(after.metrics, 'ksleuth_watch_events_total', { resource: 'kernelcaptures.ksleuth.io' }) -
    sumSeries(before.metrics, 'ksleuth_watch_events_total', { resource: 'kernelcaptures.ksleuth.io' });
  const reconciles =
    sumSeries(after.metrics, 'ksleuth_reconcile_total', { controller: 'investigation' }) -
    sumSeries(before.metrics, 'ksleuth_reconcile_total', { controller: 'investigation' });
  const span = (after.at - before.at) / 1000;
  const operatorCpu = after.cpu - before.cpu - (idle.cpu / idle.seconds) * span;
  figure('captures / status updates written', `${captures.length} / ${updates}`, `(fan-out took ${fanOutSeconds.toFixed(1)} s)`);
  figure('writing them took', `${((lastWrite - before.at) / 1000).toFixed(1)} s`);
  figure('last write → parent Completed', `${((completed - lastWrite) / 1000).toFixed(1)} s`);
  figure('operator CPU while they came in', `${(after.cpu - before.cpu).toFixed(2)} s`, `(idle: ${((idle.cpu / idle.seconds) * 1000).toFixed(0)} ms/s)`);
  figure('operator CPU per 1,000 status updates', `${((operatorCpu * 1e6) / updates).toFixed(0)} ms`, `(${events} watch events, idle subtracted)`);
  figure('investigation reconciles', String(reconciles), `(${(reconciles / (updates / 1000)).toFixed(1)} per 1,000 updates)`);
  figure('operator peak RSS', `${(peak / 1024 / 1024).toFixed(0)} MB`);
  figure(
    'parent',
    `${parent.status?.progress} ${parent.status?.captures?.succeeded} succeeded`,
    `${parent.status?.findingCount} finding(s), ${(Buffer.byteLength(JSON.stringify(parent)) / 1024).toFixed(1)} KiB`,
  );
  console.log(`load average at the end: ${await loadAverage()}`);
} finally {
  await operator?.stop(5000);
  await cluster.stop();
}
