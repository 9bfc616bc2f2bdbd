import { readFileSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { namespaceInode, scanNetworkNamespaces } from './netns.js';
import type { Workload, WorkloadResolver } from './workload.js';

/** A network namespace of this node, the process its files are read through, and who it belongs to. */
export interface NodeNamespace {
  /** The inode /proc/<pid>/ns/net links to: net:[inode]. */
  inode: number;
  pid: number;
  comm: string;
  /** The node's own network (the host's, pid 1's; on a nested node the agent's). */
  host: boolean;
  /** Where the process runs: a pod's namespace is shared by its containers, so the pod names the namespace. Undefined when it exited. */
  workload?: Workload;
}

export interface NamespaceScanOptions {
  procRoot: string;
  maxNamespaces: number;
  workloads: WorkloadResolver;
}

export interface FoundNamespaces {
  namespaces: NodeNamespace[];
  /** Namespaces found beyond maxNamespaces, not read. */
  skipped: number;
}

/**
 * The node's network namespaces for the tcp capture, each with the process its files are read
 * through and who it belongs to: the host's (pid 1's) first, then by inode. The capture's own
 * namespace is always among them, also where other processes' ns links cannot be read.
 *
 * An agent outside the machine's first network namespace runs on a node that is one namespace
 * among others on its host (a node of the test environment, a nested or simulated node): it reads
 * its own namespace and those of this node's pods (as the pod index lists them), not the other
 * nodes' namespaces beside it.
 */
export async function findNamespaces(options: NamespaceScanOptions): Promise<FoundNamespaces> {
  const { procRoot, maxNamespaces, workloads } = options;
  const scan = await scanNetworkNamespaces({ procRoot });
  const own = namespaceInode(procRoot, 'self');
  const ownPid = Number(readlinkSync(`${procRoot}/self`));
  const nested = own !== undefined && scan.initInode !== undefined && own !== scan.initInode;
  const found = nested ? scan.namespaces.filter((ns) => ns.inode === own || isListedPod(workloads.ofPid(ns.pid))) : [...scan.namespaces];
  if (own !== undefined && !found.some((n) => n.inode === own)) found.push({ inode: own, pid: ownPid, processes: 1 });
  // The node's own network: the machine's, or on a nested node the agent's (hostNetwork).
  const hostInode = nested ? own : scan.initInode;
  found.sort((a, b) => Number(b.inode === hostInode) - Number(a.inode === hostInode) || a.inode - b.inode);
  const kept = found.slice(0, maxNamespaces);
  const namespaces = await Promise.all(
    kept.map(async (ns): Promise<NodeNamespace> => {
      const host = ns.inode === hostInode;
      const workload: Workload | undefined = host ? { host: true } : workloads.ofPid(ns.pid);
      const comm = (await readFile(`${procRoot}/${ns.pid}/comm`, 'utf8').catch(() => '?')).trim();
      return { inode: ns.inode, pid: ns.pid, comm, host, ...(workload ? { workload } : {}) };
    }),
  );
  return { namespaces, skipped: found.length - kept.length };
}

/**
 * The node's own network namespace without walking /proc: the machine's (pid 1's), or on a nested
 * node the agent's. Known at once, so that its first reading opens the window on time.
 */
export function nodeNamespace(procRoot: string): NodeNamespace {
  const ownPid = Number(readlinkSync(`${procRoot}/self`));
  const own = namespaceInode(procRoot, ownPid);
  const init = namespaceInode(procRoot, 1);
  const [inode, pid] = own !== undefined && init !== undefined && own !== init ? [own, ownPid] : [init ?? own ?? 0, init !== undefined ? 1 : ownPid];
  return { inode, pid, comm: readComm(procRoot, pid), host: true, workload: { host: true } };
}

/** The namespaces found, with `node` first if the scan found no host namespace. */
export function withNamespace(found: readonly NodeNamespace[], node: NodeNamespace): NodeNamespace[] {
  return found.some((ns) => ns.inode === node.inode || ns.host) ? [...found] : [node, ...found];
}

function readComm(procRoot: string, pid: number): string {
  try {
    return readFileSync(`${procRoot}/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

function isListedPod(workload: Workload | undefined): boolean {
  return workload !== undefined && !workload.host && workload.pod !== undefined;
}
