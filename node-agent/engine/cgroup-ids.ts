import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/*
 * bpftrace's `cgroup` is the id of the task's cgroup in the unified (v2) hierarchy: on cgroup v2
 * the task's cgroup, on a v1 "hybrid" host the cgroup of the unified mount that runc (≥ 1.0) and
 * systemd also put each container in. The id is the inode number of the cgroup's directory, so a
 * walk of the cgroup2 mount finds its path, which names the pod and container (cgroup.ts).
 * On a host with only v1 hierarchies every task shows the root's id: everything is the host's.
 */

export interface CgroupIdOptions {
  /** The text of /proc/self/mountinfo, where cgroup2 mounts are found. */
  mountinfo?: string;
  /** Give up after this many directories: a node has a few per container. */
  maxDirectories?: number;
}

/** Mount points of cgroup2 filesystems, shortest first (the host's, bind-mounted under /host, is found too). */
export function cgroup2Mounts(mountinfo: string): string[] {
  const points = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (right?.split(' ')[0] !== 'cgroup2') continue;
    const point = left?.split(' ')[4];
    // mountinfo escapes spaces and other odd bytes as octal.
    if (point) points.add(point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))));
  }
  return [...points].sort((a, b) => a.length - b.length);
}

/**
 * The cgroup paths (relative to the hierarchy's root, "/" for the root) of the given ids, found by
 * walking the cgroup2 mounts breadth-first until every id is found. An id not found is a cgroup
 * that was removed meanwhile (its pod or container ended), or one outside what this process sees.
 */
export async function cgroupPathsById(ids: ReadonlySet<number>, options: CgroupIdOptions = {}): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  if (ids.size === 0) return found;
  const mountinfo = options.mountinfo ?? (await readFile('/proc/self/mountinfo', 'utf8').catch(() => ''));
  let budget = options.maxDirectories ?? 100_000;
  for (const mount of cgroup2Mounts(mountinfo)) {
    const queue: string[] = ['/'];
    while (queue.length > 0 && budget-- > 0 && found.size < ids.size) {
      const relative = queue.shift()!;
      const dir = join(mount, relative);
      const inode = await stat(dir, { bigint: true }).then(
        (s) => Number(s.ino),
        () => undefined,
      );
      if (inode !== undefined && ids.has(inode) && !found.has(inode)) found.set(inode, relative);
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) if (entry.isDirectory()) queue.push(join(relative, entry.name));
    }
    if (found.size === ids.size) break;
  }
  return found;
}
