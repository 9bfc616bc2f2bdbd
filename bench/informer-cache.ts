/**
 * What one cached object costs the operator: N Nodes (kwok), N KernelNodes and N KernelCaptures
 * on a local control plane, each kind loaded by a real Informer into its Store, once per
 * transform; the figure is the growth of the V8 heap (after a full GC) divided by N, indexes
 * included. KernelNodes carry the facts this machine's real probe reports, KernelCaptures the
 * status a real quick-health capture (memory, slab, tcp, kernel log, CPU profile) wrote here.
 *
 *   npx tsx bench/informer-cache.ts [--objects 2000] [--dump DIR]
 * --dump writes one object of each kind, as the API server returned it, to DIR (fixtures).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { pino } from 'pino';
import type { KernelCapture, KernelInvestigation } from '../api/v1alpha1/resources.js';
import { apiVersion } from '../api/v1alpha1/common.js';
import type { KubeObject } from '../lib/kube/client.js';
import { core, ksleuth } from '../lib/kube/resources.js';
import { formatTime } from '../lib/conditions.js';
import { ksleuthVersion } from '../lib/version.js';
import { buildCapture } from '../operator/investigation/children.js';
import { WorkerRunner } from '../node-agent/agent/capture-runner.js';
import { finishedStatus } from '../node-agent/agent/capture-status.js';
import { factsStatus } from '../node-agent/agent/registration.js';
import { Informer, withoutManagedFields } from '../runtime/informer.js';
import type { IndexFunction } from '../runtime/store.js';
import { LocalCluster } from '../test/harness/cluster.js';
import { cacheVariants } from './cache-variants.js';

const { values } = parseArgs({ options: { objects: { type: 'string', default: '2000' }, dump: { type: 'string' } } });
const count = Number(values.objects);
const silent = pino({ level: 'silent' });
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

const cluster = await LocalCluster.start({ controllerManager: false });
const work = await mkdtemp(join(tmpdir(), 'ksleuth-cache-bench-'));
try {
  const client = cluster.client();
  const names = Array.from({ length: count }, (_, i) => `cache-${String(i).padStart(5, '0')}`);

  // Real facts and a real capture outcome from this machine.
  const runner = new WorkerRunner(silent);
  const { facts, captureSupport } = await runner.probe({ hostRoot: '/', stateDir: join(work, 'state') });
  const report = await runner.run(
    {
      captures: [{ memory: {} }, { slab: { intervalSeconds: 1 } }, { tcp: {} }, { kernelLog: {} }, { cpuProfile: { frequencyHz: 99 } }],
      durationSeconds: 3,
      facts,
      outDir: join(work, 'out'),
      stateDir: join(work, 'state'),
    },
    new AbortController().signal,
  );
  const captureStatus = finishedStatus(report, ksleuthVersion, facts.kernelVersion);

  await cluster.addNodes(names.map((name, i) => ({ name, labels: { pool: 'cache', zone: `zone-${i % 3}` } })));
  await cluster.waitForNodesReady(names, 300_000);

  const investigation = await client.create<KernelInvestigation>(ksleuth('KernelInvestigation'), {
    apiVersion,
    kind: 'KernelInvestigation',
    metadata: { name: 'cache' },
    spec: { nodes: { selector: { matchLabels: { pool: 'cache' } }, maxNodes: 5000 }, durationSeconds: 3, captures: [{ memory: {} }] },
  });
  const deadline = new Date(Date.now() + 3600_000);
  await forEachLimited(names, 32, async (name) => {
    await client.create(ksleuth('KernelNode'), {
      apiVersion,
      kind: 'KernelNode',
      metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'ksleuth' } },
      spec: {
        sysctls: [
          { name: 'vm.min_free_kbytes', value: '262144', mitigation: 'min-free', revertPolicy: 'Restore', dryRun: false },
          { name: 'net.ipv4.tcp_fastopen', value: '3', mitigation: 'fastopen', revertPolicy: 'Restore', dryRun: false },
        ],
      },
    });
    const now = formatTime(new Date());
    await client.patch(
      ksleuth('KernelNode'),
      name,
      {
        status: {
          ...factsStatus({ ...facts, hostname: name }, ksleuthVersion, captureSupport),
          heartbeatTime: now,
          sysctls: [
            { name: 'vm.min_free_kbytes', mitigation: 'min-free', desired: '262144', current: '262144', original: '67584', state: 'Applied' },
            { name: 'net.ipv4.tcp_fastopen', mitigation: 'fastopen', desired: '3', current: '3', original: '1', state: 'Applied' },
          ],
          sysctlSummary: '2/2',
          conditions: [{ type: 'AgentReady', status: 'True', reason: 'Heartbeat', message: 'the agent is reporting', lastTransitionTime: now }],
        },
      },
      { subresource: 'status' },
    );
    const capture = buildCapture(investigation, name, deadline);
    await client.create(ksleuth('KernelCapture'), capture);
    await client.patch(ksleuth('KernelCapture'), capture.metadata.name!, { status: captureStatus }, { subresource: 'status' });
  });

  const kinds = [
    { title: 'Node', resource: core.nodes, example: names[0]! },
    { title: 'KernelNode', resource: ksleuth('KernelNode'), example: names[0]! },
    { title: 'KernelCapture', resource: ksleuth('KernelCapture'), example: buildCapture(investigation, names[0]!, deadline).metadata.name! },
  ] as const;
  if (values.dump) {
    await mkdir(values.dump, { recursive: true });
    for (const kind of kinds) {
      const object = await client.get<KubeObject>(kind.resource, kind.example);
      await writeFile(join(values.dump, `${kind.title.toLowerCase()}.json`), `${JSON.stringify(object, null, 2)}\n`);
    }
  }

  console.log(`cache cost per object: ${count} objects of each kind, V8 heap growth after a full GC\n`);
  console.log(`${'kind'.padEnd(15)}${'JSON bytes'.padStart(11)}  ${'transform'.padEnd(44)}${'bytes/object'.padStart(13)}`);
  for (const kind of kinds) {
    const json = Buffer.byteLength(JSON.stringify(await client.get<KubeObject>(kind.resource, kind.example)));
    const variants: { name: string; transform: (o: KubeObject) => KubeObject; indexers?: Record<string, IndexFunction<KubeObject>> }[] = [
      { name: 'none (the whole object)', transform: (o) => o },
      {
        name: kind.title === 'KernelCapture' ? 'without managedFields + its index (before)' : 'without managedFields (before)',
        transform: withoutManagedFields,
        ...(kind.title === 'KernelCapture' ? { indexers: { investigation: (c: KubeObject) => [(c as KernelCapture).spec.investigation] } } : {}),
      },
      ...(cacheVariants[kind.title] ?? []),
    ];
    for (const variant of variants) {
      const before = await heapAfterGc();
      let informer: Informer<KubeObject> | undefined = new Informer<KubeObject>({
        client,
        resource: kind.resource,
        transform: variant.transform,
        indexers: variant.indexers,
        log: silent,
      });
      informer.start();
      await informer.synced;
      const size = informer.store.size;
      const after = await heapAfterGc();
      await informer.stop();
      informer = undefined;
      console.log(`${kind.title.padEnd(15)}${String(json).padStart(11)}  ${variant.name.padEnd(44)}${((after - before) / size).toFixed(0).padStart(13)}`);
    }
  }
} finally {
  await cluster.stop();
  await rm(work, { recursive: true, force: true });
}
