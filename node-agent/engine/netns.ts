import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/** One network namespace of the node, found through a process that lives in it. */
export interface NetworkNamespace {
  /** The namespace's inode number: /proc/<pid>/ns/net links to "net:[inode]". */
  inode: number;
  /** The lowest pid seen in it. /proc/<pid>/net/* of this process show the namespace's sockets and counters. */
  pid: number;
  /** How many processes were seen in it. */
  processes: number;
}

export interface NetworkNamespaceScan {
  /** Ordered by inode, so a caller can take them in turns across scans. */
  namespaces: NetworkNamespace[];
  /** The namespace of pid 1 (or of the kernel threads): the host's when /proc is the host's (hostPID). */
  initInode?: number;
  /** Processes looked at, and those that vanished or could not be read meanwhile. */
  processes: number;
  unreadable: number;
  /** The scan stopped at maxProcesses. */
  capped: boolean;
}

export interface NetworkNamespaceScanOptions {
  /** The /proc to scan: the host's for an agent with hostPID. */
  procRoot?: string;
  /** Look at no more than this many processes. Default 100 000. */
  maxProcesses?: number;
}

const inodePattern = /^net:\[(\d+)\]$/;
/** readlink is a quick syscall; yield now and then so a node with 100k processes does not stall the event loop. */
const processesPerBatch = 1024;

/** The network namespace inode of a process, or undefined if it is gone or may not be read. */
export function namespaceInode(procRoot: string, pid: string | number): number | undefined {
  try {
    const match = inodePattern.exec(readlinkSync(`${procRoot}/${pid}/ns/net`));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Kernel threads live in the host's first network namespace: kthreadd's (pid 2) is the host's
 * where pid 1's link may not be read (ptrace access to init can be refused even to root).
 */
function kernelThreadsInode(procRoot: string): number | undefined {
  try {
    if (readFileSync(`${procRoot}/2/comm`, 'utf8').trim() !== 'kthreadd') return undefined;
  } catch {
    return undefined;
  }
  return namespaceInode(procRoot, 2);
}

/**
 * The node's distinct network namespaces, each with one process in it, found by the inode that
 * /proc/<pid>/ns/net links to; no setns, nothing changed. A namespace that no process holds (one
 * only bind-mounted, as `ip netns add` leaves it) is not found: it has no sockets of a workload.
 * Reading another process's ns link needs ptrace read access (root with CAP_SYS_PTRACE).
 * Work is one readdir and one readlink per process.
 */
export async function scanNetworkNamespaces(options: NetworkNamespaceScanOptions = {}): Promise<NetworkNamespaceScan> {
  const proc = options.procRoot ?? '/proc';
  const max = options.maxProcesses ?? 100_000;
  const pids = readdirSync(proc)
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
  const byInode = new Map<number, NetworkNamespace>();
  let unreadable = 0;
  let looked = 0;
  for (const pid of pids) {
    if (looked >= max) break;
    if (++looked % processesPerBatch === 0) await yieldToEventLoop();
    const inode = namespaceInode(proc, pid);
    if (inode === undefined) {
      unreadable++;
      continue;
    }
    const known = byInode.get(inode);
    if (known) known.processes++;
    else byInode.set(inode, { inode, pid, processes: 1 });
  }
  const initInode = namespaceInode(proc, 1) ?? kernelThreadsInode(proc);
  return {
    namespaces: [...byInode.values()].sort((a, b) => a.inode - b.inode),
    ...(initInode !== undefined ? { initInode } : {}),
    processes: looked,
    unreadable,
    capped: pids.length > looked,
  };
}
