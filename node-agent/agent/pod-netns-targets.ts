import { readdirSync, readFileSync } from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { parseProcCgroup, podOfProcess } from '../engine/cgroup.js';
import { namespaceInode } from '../engine/netns.js';
import type { PodNetnsTarget, PodTargets } from '../sysctl/pod-netns.js';
import { stableStringify } from '../../lib/stable-json.js';
import type { InformerHandlers } from '../../runtime/informer.js';
import type { IndexedPod } from './pod-index.js';

/** Phases after which a pod's containers and sandbox are gone. */
const finished = new Set(['Succeeded', 'Failed']);

/** Pods that can have a network namespace of their own: a sandbox, not hostNetwork, not finished. */
export function podsWithOwnNetns(pods: readonly IndexedPod[]): IndexedPod[] {
  return pods.filter((p) => !p.network.hostNetwork && p.network.sandbox && !finished.has(p.network.phase ?? ''));
}

/**
 * What the agent keeps across passes, so that /proc is scanned only when a pod's network namespace
 * is not yet known. `owners`: the pod UID each namespace was found to belong to (undefined: to no
 * pod); a namespace never changes its pod, so its cgroups are read once. `byPod`: each pod's
 * namespace and the process it was found through, checked again with one readlink per pass.
 */
export interface PodNetnsCache {
  owners: Map<number, string | undefined>;
  byPod: Map<string, { inode: number; pid: number }>;
  /** Full scans of /proc done, for tests and benchmarks. */
  scans: number;
}

export function podNetnsCache(): PodNetnsCache {
  return { owners: new Map(), byPod: new Map(), scans: 0 };
}

/**
 * The node's pods with their network namespaces: each network namespace other than the agent's
 * own (the host's, with hostNetwork) is attributed to the pod whose cgroup one of its processes
 * is in (/proc/<pid>/cgroup, node-agent/engine/cgroup.ts). A namespace of no pod of this node (an
 * `ip netns exec` shell, another tool's) is never touched. One readlink per process, and one
 * cgroup read per namespace while its first process is a pod's (the sandbox's pause process is).
 */
export async function findPodNetns(pods: readonly IndexedPod[], procRoot: string, cache: PodNetnsCache = podNetnsCache()): Promise<PodTargets> {
  const candidates = podsWithOwnNetns(pods);
  const targets = new Map<string, PodNetnsTarget>(
    candidates.map((p) => [
      p.entry.uid,
      {
        podUid: p.entry.uid,
        namespace: p.entry.namespace,
        name: p.entry.name,
        labels: p.network.labels,
        declared: p.network.sysctls,
        ...(p.network.terminating ? { terminating: true } : {}),
      },
    ]),
  );
  for (const uid of [...cache.byPod.keys()]) if (!targets.has(uid)) cache.byPod.delete(uid);
  if (candidates.length === 0) return { pods: [] };
  // A pod found before whose process is still in the same namespace needs no scan.
  for (const [uid, target] of targets) {
    const known = cache.byPod.get(uid);
    if (known && namespaceInode(procRoot, known.pid) === known.inode) target.netns = known;
    else cache.byPod.delete(uid);
  }
  if ([...targets.values()].every((t) => t.netns)) return { pods: [...targets.values()] };
  const problem = await scanForPods(targets, procRoot, cache);
  return { pods: [...targets.values()], ...(problem ? { problem } : {}) };
}

/** One pass over /proc that gives every pod not yet placed its namespace, where a process of the pod is found. */
async function scanForPods(targets: Map<string, PodNetnsTarget>, procRoot: string, cache: PodNetnsCache): Promise<string | undefined> {
  const { owners } = cache;
  const own = namespaceInode('/proc', 'self');
  let pids: string[];
  try {
    pids = readdirSync(procRoot).filter((name) => /^\d+$/.test(name));
  } catch (error) {
    return `cannot list ${procRoot}: ${(error as Error).message}`;
  }
  cache.scans += 1;
  const attributed = new Set<number>();
  // A namespace whose first few processes are in no pod's cgroup belongs to no pod.
  const misses = new Map<number, number>();
  const seen = new Set<number>();
  let looked = 0;
  for (const pid of pids) {
    if (++looked % 1024 === 0) await yieldToEventLoop();
    const inode = namespaceInode(procRoot, pid);
    if (inode === undefined || inode === own || attributed.has(inode)) continue;
    seen.add(inode);
    const known = owners.has(inode);
    if (known && owners.get(inode) === undefined) continue;
    if (!known && (misses.get(inode) ?? 0) >= 3) {
      owners.set(inode, undefined);
      continue;
    }
    const uid = known ? owners.get(inode)! : podUidOf(procRoot, pid);
    if (!uid) {
      misses.set(inode, (misses.get(inode) ?? 0) + 1);
      continue;
    }
    owners.set(inode, uid);
    attributed.add(inode);
    const target = targets.get(uid);
    if (target && !target.netns) {
      target.netns = { inode, pid: Number(pid) };
      cache.byPod.set(uid, target.netns);
    }
  }
  for (const inode of [...owners.keys()]) if (!seen.has(inode)) owners.delete(inode);
  return undefined;
}

function podUidOf(procRoot: string, pid: string): string | undefined {
  try {
    return podOfProcess(parseProcCgroup(readFileSync(`${procRoot}/${pid}/cgroup`, 'utf8')))?.podUid;
  } catch {
    return undefined;
  }
}

/**
 * Informer handlers that call changed() when a pod appears, goes, or changes in what decides where
 * net.* sysctls go (its sandbox came up, its labels changed, it is being deleted), so that a pod
 * that starts gets the node's mitigations within a pass, not at the next drift check.
 */
export function onPodNetworkChange(changed: () => void): InformerHandlers<IndexedPod> {
  return {
    onAdd: (pod) => {
      if (podsWithOwnNetns([pod]).length > 0) changed();
    },
    onUpdate: (old, pod) => {
      if (stableStringify(old.network) !== stableStringify(pod.network)) changed();
    },
    onDelete: () => changed(),
  };
}
