import type { Workload, WorkloadResolver } from '../../engine/workload.js';
import { readdir, readFile, readlink } from 'node:fs/promises';

export interface SocketOwner {
  pid: number;
  comm: string;
  /** The pod and container the process runs in, or the host. Absent in recordings made before pods were named. */
  workload?: Workload;
}

export interface OwnerScanOptions {
  procRoot?: string;
  /** Give up after this long: a node with many processes and descriptors takes a while. */
  budgetMs?: number;
  /** Names the owners' pods and containers. */
  workloads?: WorkloadResolver;
}

/**
 * Which processes hold the given socket inodes, found the way ss -p does it: by reading the
 * /proc/<pid>/fd links ("socket:[inode]"). Stops when every inode is found or the budget is spent.
 */
export async function socketOwners(inodes: Set<number>, options: OwnerScanOptions = {}): Promise<Record<string, SocketOwner[]>> {
  const proc = options.procRoot ?? '/proc';
  const deadline = Date.now() + (options.budgetMs ?? 3000);
  const owners: Record<string, SocketOwner[]> = {};
  if (inodes.size === 0) return owners;
  const missing = new Set(inodes);
  const pids = (await readdir(proc).catch(() => [] as string[])).filter((name) => /^\d+$/.test(name));
  for (const pid of pids) {
    if (missing.size === 0 || Date.now() > deadline) break;
    const fds = await readdir(`${proc}/${pid}/fd`).catch(() => [] as string[]);
    let comm: string | undefined;
    let workload: Workload | undefined;
    for (const fd of fds) {
      const target = await readlink(`${proc}/${pid}/fd/${fd}`).catch(() => '');
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (!inode || !inodes.has(Number(inode))) continue;
      comm ??= (await readFile(`${proc}/${pid}/comm`, 'utf8').catch(() => '?')).trim();
      workload ??= options.workloads?.ofPid(Number(pid));
      (owners[inode] ??= []).push({ pid: Number(pid), comm, ...(workload ? { workload } : {}) });
      missing.delete(Number(inode));
    }
  }
  return owners;
}
