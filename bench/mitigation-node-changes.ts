/**
 * What the mitigation controller costs per Node or KernelNode change on a large cluster: N nodes
 * (default 5,000), three KernelMitigations (one selects a third of the nodes, one another third
 * with a rollout limit, one every node in dry run), and a stream of KernelNode status reports (an
 * agent's sysctl report or heartbeat-free status change). Prints the keys each change enqueues
 * and the operator CPU per change: the keys mapped, de-duplicated as the work queue does, and
 * every key reconciled. Writes land in the in-memory stores as the informers would show them (no
 * API server: this measures the operator's own work). The informer calls the map for the old and
 * the new object, as here.
 *
 *   npx tsx bench/mitigation-node-changes.ts [--nodes 5000] [--changes 500] [--burst 1]
 *
 * --burst B applies B changes before the queue is drained (a burst coalesces in the queue).
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { KernelMitigation } from '../api/v1alpha1/resources.js';
import type { KubeClient } from '../lib/kube/client.js';
import { loadAllowList } from '../lib/sysctl/allowlist-load.js';
import { MitigationReconciler } from '../operator/mitigation/controller.js';
import type { CachedKernelNode, CachedNode } from '../operator/nodes/cached.js';
import { Store } from '../runtime/store.js';

const { values } = parseArgs({
  options: { nodes: { type: 'string', default: '5000' }, changes: { type: 'string', default: '500' }, burst: { type: 'string', default: '1' } },
});
const nodeCount = Number(values.nodes);
const changes = Number(values.changes);
const burst = Number(values.burst);
const pools = ['db', 'web', 'batch'];
const context = { log: pino({ level: 'silent' }), signal: new AbortController().signal, retries: 0 };

const mitigations = new Store<KernelMitigation>();
const nodes = new Store<CachedNode>();
const kernelNodes = new Store<CachedKernelNode>();
const names = Array.from({ length: nodeCount }, (_, i) => `bench-${String(i).padStart(4, '0')}`);
names.forEach((name, i) => {
  nodes.set({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: name, labels: { pool: pools[i % 3]! } },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  });
  kernelNodes.set({
    apiVersion: 'ksleuth.io/v1alpha1',
    kind: 'KernelNode',
    metadata: { name, uid: `kn-${name}`, resourceVersion: '1' },
    spec: {},
    status: { heartbeatTime: new Date().toISOString(), kernelVersion: '6.1.0' },
  });
});
const mitigation = (name: string, spec: Record<string, unknown>): KernelMitigation =>
  ({ apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelMitigation', metadata: { name, uid: name, generation: 1 }, spec }) as unknown as KernelMitigation;
mitigations.set(mitigation('db-swappiness', { sysctls: [{ name: 'vm.swappiness', value: '10' }], nodeSelector: { matchLabels: { pool: 'db' } } }));
mitigations.set(
  mitigation('web-dirty-ratio', {
    sysctls: [{ name: 'vm.dirty_ratio', value: '15' }],
    nodeSelector: { matchLabels: { pool: 'web' } },
    rollout: { maxConcurrentNodes: 50 },
  }),
);
mitigations.set(mitigation('fleet-preview', { sysctls: [{ name: 'vm.vfs_cache_pressure', value: '200' }], dryRun: true }));

// Writes land in the stores as the informers would show them, and map keys as their events would.
let writes = 0;
const queue = new Set<string>();
let reconciler: MitigationReconciler;
const client = {
  patch: async (ref: { plural: string }, name: string, body: { spec?: CachedKernelNode['spec']; status?: KernelMitigation['status'] }) => {
    writes++;
    if (ref.plural === 'kernelnodes' && body.spec) {
      const old = kernelNodes.get(name)!;
      const next = { ...old, spec: body.spec };
      kernelNodes.set(next);
      for (const key of [...reconciler.keysForNodeChange(next), ...reconciler.keysForNodeChange(old)]) queue.add(key);
    } else if (ref.plural === 'kernelmitigations' && body.status) {
      const next = { ...mitigations.get(name)!, status: body.status };
      mitigations.set(next);
      for (const key of reconciler.keysForOwnChange(next)) queue.add(key);
    }
  },
} as unknown as KubeClient;
reconciler = new MitigationReconciler({
  client,
  stores: { mitigations, nodes, kernelNodes },
  events: { record: () => undefined },
  allowList: await loadAllowList(),
  enqueue: (key) => queue.add(key),
});

async function drain(): Promise<number> {
  let reconciled = 0;
  while (queue.size > 0) {
    const [key] = queue;
    queue.delete(key!);
    await reconciler.reconcile(key!, context);
    reconciled++;
  }
  return reconciled;
}

// Settle: every key once, as after a start.
for (const key of reconciler.keysForChange()) queue.add(key);
await drain();
const settleWrites = writes;

let mapped = 0;
let reconciled = 0;
const cpu = process.cpuUsage();
const started = performance.now();
for (let i = 0; i < changes; i++) {
  const name = names[(i * 7919) % nodeCount]!;
  const old = kernelNodes.get(name)!;
  const next: CachedKernelNode = {
    ...old,
    metadata: { ...old.metadata, resourceVersion: String(Number(old.metadata.resourceVersion) + 1) },
    status: { ...old.status, kernelVersion: i % 2 === 0 ? '6.1.0' : '6.1.1' },
  };
  kernelNodes.set(next);
  for (const key of [...reconciler.keysForNodeChange(next), ...reconciler.keysForNodeChange(old)]) {
    mapped++;
    queue.add(key);
  }
  if ((i + 1) % burst === 0) reconciled += await drain();
}
reconciled += await drain();
const wallMs = performance.now() - started;
const used = process.cpuUsage(cpu);
const cpuMs = (used.user + used.system) / 1000;

const row = (name: string, value: string): void => console.log(`${name.padEnd(40)} ${value}`);
console.log(`mitigation controller, ${nodeCount} nodes, 3 mitigations, ${changes} KernelNode changes, bursts of ${burst}\n`);
row('keys mapped per change (old + new)', (mapped / changes).toFixed(2));
row('keys reconciled per change', (reconciled / changes).toFixed(2));
row('operator CPU per change', `${((cpuMs * 1000) / changes).toFixed(0)} µs`);
row('wall per change', `${((wallMs * 1000) / changes).toFixed(0)} µs`);
row('writes during the changes', String(writes - settleWrites));
