/**
 * What holding a net.* mitigation in every pod's network namespace costs the agent, at N pods:
 * N real network namespaces, each held by a process (`unshare --net sleep`, as a pod's sandbox
 * holds its own), made here and gone with their processes. Prints wall time and CPU (the agent's
 * own and its nsenter helpers') of the first pass (read, record originals, write, read back), of a
 * quiet pass (what every drift check costs), of a pass that reads back five namespaces, of the
 * restore when the mitigation is deleted; the scan of /proc that finds pods' namespaces; and the
 * heap per pod the agent keeps (pod index projection with network facts, state entry).
 *
 *   npx tsx --expose-gc bench/pod-sysctls.ts [--namespaces 100]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import type { DesiredSysctl } from '../api/v1alpha1/node.js';
import { loadAllowList } from '../lib/sysctl/allowlist-load.js';
import { indexPod } from '../node-agent/agent/pod-index.js';
import { findPodNetns, podNetnsCache } from '../node-agent/agent/pod-netns-targets.js';
import { readNetnsState } from '../node-agent/sysctl/netns-state.js';
import { holdInPodNamespaces, type PodNetnsTarget, type PodPassResult } from '../node-agent/sysctl/pod-netns.js';

const { values } = parseArgs({ options: { namespaces: { type: 'string', default: '100' } } });
const count = Number(values.namespaces);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc: npx tsx --expose-gc bench/pod-sysctls.ts');

const allowList = await loadAllowList();
const stateDir = await mkdtemp(join(tmpdir(), 'ksleuth-bench-pod-sysctls-'));
const sleepers: ChildProcess[] = [];
const unified = existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified';
const cgroupTop = join(unified, `ksleuth-bench-${process.pid}`);
const want = (value: string): DesiredSysctl => ({ name: 'net.ipv4.tcp_fastopen', value, mitigation: 'tfo', revertPolicy: 'Restore', dryRun: false });

function inode(pid: number | string): number {
  return Number(/net:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/net`))![1]);
}

/** User and system CPU ms of this process, and of its children that were waited for (the helpers). */
function cpu(): { own: number; children: number } {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  const tick = 10;
  return { own: (Number(fields[11]) + Number(fields[12])) * tick, children: (Number(fields[13]) + Number(fields[14])) * tick };
}

async function measure(label: string, work: () => Promise<PodPassResult>): Promise<void> {
  const before = cpu();
  const start = performance.now();
  const result = await work();
  const wall = performance.now() - start;
  const after = cpu();
  const own = after.own - before.own;
  const children = after.children - before.children;
  console.log(
    `${label.padEnd(34)} wall ${(wall / 1000).toFixed(2).padStart(6)} s  agent CPU ${own.toFixed(0).padStart(5)} ms  helpers CPU ${children.toFixed(0).padStart(5)} ms  ` +
      `(${((own + children) / count).toFixed(1)} ms per namespace)  helpers ${result.helpers}  writes ${result.writes}`,
  );
}

function heapUsed(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

try {
  const host = inode('self');
  // Each sleeper joins a cgroup named as the kubelet (cgroupfs driver) names a pod's, then gets its own namespace.
  for (let i = 0; i < count; i++) {
    const dir = join(cgroupTop, 'kubepods', 'besteffort', `pod${podUid(i)}`, i.toString(16).padStart(64, '0'));
    mkdirSync(dir, { recursive: true });
    sleepers.push(spawn('sh', ['-c', `echo $$ > ${dir}/cgroup.procs && exec unshare --net sleep 3600`], { stdio: 'ignore' }));
  }
  const targets: PodNetnsTarget[] = [];
  for (const [i, child] of sleepers.entries()) {
    let ns = host;
    for (let t = 0; t < 500 && ns === host; t++) {
      ns = inode(child.pid!);
      if (ns === host) await sleep(10);
    }
    targets.push({
      podUid: `uid-${i}`,
      namespace: `team-${i % 10}`,
      name: `web-${i}`,
      labels: { app: 'web' },
      declared: {},
      netns: { inode: ns, pid: child.pid! },
    });
  }
  console.log(`${count} network namespaces, each held by a process; net.ipv4.tcp_fastopen=0 in each`);
  const verifiedAt = new Map<number, number>();
  const pass = (desired: DesiredSysctl[], verify = 0) =>
    holdInPodNamespaces(desired, {
      allowList,
      stateDir,
      procRoot: '/proc',
      bootId: 'bench',
      targets: async () => ({ pods: targets }),
      verifiedAt,
      verifyPerPass: verify,
    });
  await measure('first pass (record, write, verify)', () => pass([want('0')]));
  await measure('quiet pass (a restart, a drift check)', () => pass([want('0')]));
  await measure('drift check reading back 5', () => pass([want('0')], 5));

  const before = heapUsed();
  const kept = { state: await readNetnsState(stateDir), pods: targets.map((_, i) => indexPod(madeUpPod(i))) };
  const perPod = (heapUsed() - before) / count;
  console.log(`heap kept per pod: ${(perPod / 1024).toFixed(2)} KiB (pod index entry with network facts, and its state entry; ${kept.state.size} entries)`);

  // Finding the pods' namespaces: a full scan of /proc the first time; later, one readlink per
  // known pod (the sleepers sit in cgroups named as the kubelet names pods, with these pods' UIDs).
  // "Every pass scans" is what the agent did before it kept each pod's namespace across passes.
  const cache = podNetnsCache();
  /** Median wall and CPU time of `rounds` looks (the machine is shared: single runs are noisy). */
  const find = async (label: string, reset: boolean, rounds: number): Promise<void> => {
    const walls: number[] = [];
    const cpus: number[] = [];
    let scans = 0;
    let placed = '';
    for (let i = 0; i < rounds; i++) {
      if (reset) cache.byPod.clear();
      const before = cache.scans;
      const cpuBefore = process.cpuUsage();
      const start = performance.now();
      const found = await findPodNetns(kept.pods, '/proc', cache);
      walls.push(performance.now() - start);
      const used = process.cpuUsage(cpuBefore);
      cpus.push((used.user + used.system) / 1000);
      scans += cache.scans - before;
      placed = `${found.pods.filter((p) => p.netns).length} of ${found.pods.length} pods placed`;
    }
    const median = (xs: number[]): string => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!.toFixed(1);
    console.log(
      `${label.padEnd(44)} wall ${median(walls).padStart(6)} ms  CPU ${median(cpus).padStart(6)} ms  (median of ${rounds}; ${readProcCount()} processes on this machine, ${placed}, ${scans} scans of /proc)`,
    );
  };
  await find("first look for the pods' namespaces", false, 1);
  await find('a later pass, every pass scans (before)', true, 9);
  await find('a later pass, namespaces known (now)', false, 9);

  await measure('restore (mitigation deleted)', () => pass([]));
} finally {
  await Promise.all(
    sleepers.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((r) => child.once('close', r).kill('SIGKILL')) : undefined)),
  );
  await rm(stateDir, { recursive: true, force: true });
  removeCgroups(cgroupTop);
}

/** Removes the cgroup tree deepest first (rmdir only: cgroup directories hold no files to delete). */
function removeCgroups(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeCgroups(join(dir, entry.name));
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  console.error(`could not remove ${dir}`);
}

function readProcCount(): number {
  return (readFileSync('/proc/loadavg', 'utf8').split(' ')[3]?.split('/')[1] ?? '?') as unknown as number;
}

function podUid(i: number): string {
  return `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
}

function madeUpPod(i: number): V1Pod {
  return {
    metadata: {
      name: `web-5d8f7c9b4-${i}`,
      namespace: `team-${i % 10}`,
      uid: podUid(i),
      resourceVersion: String(1000 + i),
      labels: { app: 'web', 'pod-template-hash': '5d8f7c9b4', tier: 'frontend' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8f7c9b4', uid: 'rs', controller: true }],
    },
    spec: { nodeName: 'node-1', containers: [{ name: 'app', image: 'app:1' }] },
    status: {
      phase: 'Running',
      podIP: `10.0.${i >> 8}.${i & 255}`,
      containerStatuses: [{ name: 'app', containerID: `containerd://${i.toString(16).padStart(64, '0')}` } as never],
    },
  };
}
