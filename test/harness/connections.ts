import { readdir, readFile, readlink } from 'node:fs/promises';

/**
 * The local ports of this process's established TCP connections to `port` on the machine, read
 * from /proc (what `ss -tnp` shows): the socket inodes among /proc/self/fd matched against
 * /proc/net/tcp and tcp6.
 */
export async function connectionsTo(port: number): Promise<Set<number>> {
  const inodes = new Set<string>();
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode) inodes.add(inode);
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (fields.length < 10 || fields[3] !== '01' || !inodes.has(fields[9]!)) continue;
      const remotePort = Number.parseInt(fields[2]!.split(':')[1]!, 16);
      if (remotePort === port) ports.add(Number.parseInt(fields[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

/** The ports in `after` that were not in `before`: connections opened in between. */
export function opened(before: Set<number>, after: Set<number>): number[] {
  return [...after].filter((p) => !before.has(p));
}
