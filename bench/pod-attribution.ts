/**
 * What naming pods costs the agent: the pod index's memory per pod (the informer's projected
 * objects, measured as heap growth over N pods), the size of the pod list each capture run sends
 * to its worker, and the time to attribute one process (read /proc/<pid>/cgroup, parse, look up).
 * Pods are made-up objects of a realistic shape (labels, annotations, env, three containers) put
 * through the same projection the informer applies; processes are this machine's.
 *
 *   npx tsx --expose-gc bench/pod-attribution.ts [--pods 100] [--rounds 20]
 */
import { readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { indexPod } from '../node-agent/agent/pod-index.js';
import { WorkloadResolver } from '../node-agent/engine/workload.js';

const { values } = parseArgs({ options: { pods: { type: 'string', default: '100' }, rounds: { type: 'string', default: '20' } } });
const podCount = Number(values.pods);
const rounds = Number(values.rounds);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc: npx tsx --expose-gc bench/pod-attribution.ts');

function hex(n: number): string {
  return n.toString(16).padStart(64, '0');
}

function madeUpPod(i: number): V1Pod {
  const uid = `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
  const containers = ['app', 'sidecar', 'metrics'].map((name) => ({
    name,
    image: `registry.example.com/team/${name}:1.2.${i}`,
    env: Array.from({ length: 20 }, (_, e) => ({ name: `VAR_${e}`, value: 'x'.repeat(40) })),
    resources: { requests: { cpu: '100m', memory: '128Mi' } },
  }));
  return {
    metadata: {
      name: `web-5d8f7c9b4-${i.toString(36).padStart(5, 'a')}`,
      namespace: `team-${i % 10}`,
      uid,
      resourceVersion: String(1000 + i),
      labels: { app: 'web', 'pod-template-hash': '5d8f7c9b4', tier: 'frontend' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'y'.repeat(2000) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8f7c9b4', uid: 'rs', controller: true }],
    },
    spec: { nodeName: 'node-1', containers },
    status: { containerStatuses: containers.map((c, n) => ({ name: c.name, containerID: `containerd://${hex(i * 3 + n)}` }) as never) },
  };
}

function heapUsed(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

// Memory: the projected objects the informer keeps, and the raw pods for comparison (the
// informer drops each raw object after projecting it).
const before = heapUsed();
const projected = Array.from({ length: podCount }, (_, i) => indexPod(madeUpPod(i)));
const afterProjected = heapUsed();
const raw = Array.from({ length: podCount }, (_, i) => madeUpPod(i));
const afterRaw = heapUsed();
const entries = projected.map((p) => p.entry);
const payload = JSON.stringify(entries).length;

// Time: attribute every process of this machine, rounds times.
const resolver = new WorkloadResolver(entries);
const pids = readdirSync('/proc')
  .filter((name) => /^\d+$/.test(name))
  .map(Number);
let attributed = 0;
const cpu = process.cpuUsage();
const started = process.hrtime.bigint();
for (let r = 0; r < rounds; r++) for (const pid of pids) if (resolver.ofPid(pid)) attributed++;
const wallUs = Number(process.hrtime.bigint() - started) / 1000;
const cpuUsed = process.cpuUsage(cpu);

console.log(`pods: ${podCount}`);
console.log(
  `pod index, projected: ${((afterProjected - before) / podCount).toFixed(0)} B per pod, ${((afterProjected - before) / 1024).toFixed(1)} KiB in all`,
);
console.log(`the same pods unprojected: ${((afterRaw - afterProjected) / podCount).toFixed(0)} B per pod`);
console.log(`pod list sent with each capture run: ${payload} B (${(payload / podCount).toFixed(0)} B per pod)`);
console.log(
  `attributing a process: ${(wallUs / attributed).toFixed(1)} µs wall, ${((cpuUsed.user + cpuUsed.system) / attributed).toFixed(1)} µs CPU ` +
    `(${pids.length} processes × ${rounds} rounds, ${attributed} read)`,
);
void raw.length;
