import { readFileSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { namespaceInode, scanNetworkNamespaces } from '../../engine/netns.js';
import type { Workload, WorkloadResolver } from '../../engine/workload.js';
import { closeWaitAndListenQueueLines } from '../../procfs/net-tcp.js';
import type { TcpNamespace, TcpReadingText } from './parse.js';

/**
 * Read no more than this many network namespaces per reading. Each read of /proc/<pid>/net/tcp
 * walks the kernel's TCP hash table, which is shared by every namespace unless
 * net.ipv4.tcp_child_ehash_entries gives a namespace its own: the cost grows with namespaces ×
 * sockets on the node (bench/tcp-namespaces.ts). 128 covers a node at the kubelet's default of
 * 110 pods plus host namespaces.
 */
export const defaultMaxNamespaces = 128;

export interface NamespaceScanOptions {
  procRoot: string;
  maxNamespaces: number;
  workloads: WorkloadResolver;
}

export interface FoundNamespaces {
  namespaces: TcpNamespace[];
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
    kept.map(async (ns): Promise<TcpNamespace> => {
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
export function nodeNamespace(procRoot: string): TcpNamespace {
  const ownPid = Number(readlinkSync(`${procRoot}/self`));
  const own = namespaceInode(procRoot, ownPid);
  const init = namespaceInode(procRoot, 1);
  const [inode, pid] = own !== undefined && init !== undefined && own !== init ? [own, ownPid] : [init ?? own ?? 0, init !== undefined ? 1 : ownPid];
  return { inode, pid, comm: readComm(procRoot, pid), host: true, workload: { host: true } };
}

/** The namespaces found, with `node` first if the scan found no host namespace. */
export function withNamespace(found: readonly TcpNamespace[], node: TcpNamespace): TcpNamespace[] {
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

async function readNetFiles(procNet: string, sockets: boolean): Promise<TcpReadingText> {
  const [snmp, netstat] = await Promise.all([readFile(`${procNet}/snmp`, 'utf8'), readFile(`${procNet}/netstat`, 'utf8')]);
  if (!sockets) return { snmp, netstat };
  const tcp = await readFile(`${procNet}/tcp`, 'utf8');
  const tcp6 = await readFile(`${procNet}/tcp6`, 'utf8').catch(() => undefined);
  return { tcp: closeWaitAndListenQueueLines(tcp), ...(tcp6 !== undefined ? { tcp6: closeWaitAndListenQueueLines(tcp6) } : {}), snmp, netstat };
}

/**
 * One reading of every namespace, by inode, one namespace after the other (each read of a socket
 * table walks the TCP hash: in parallel they would only contend). The SNMP counters cost a
 * fraction of a millisecond; the socket tables about 6-12 ms each on a host with a 262,144-bucket
 * hash, whatever the namespace holds, so they are read only when `sockets` is set. A namespace whose
 * process has exited, or that is no longer the one the process is in, is left out of this reading.
 */
export async function readNamespaces(procRoot: string, namespaces: readonly TcpNamespace[], sockets = true): Promise<Record<string, TcpReadingText>> {
  const readings: Record<string, TcpReadingText> = {};
  for (const ns of namespaces) {
    const text = await readNetFiles(`${procRoot}/${ns.pid}/net`, sockets).catch(() => undefined);
    if (text && namespaceInode(procRoot, ns.pid) === ns.inode) readings[ns.inode] = text;
  }
  return readings;
}
