import { readFile } from 'node:fs/promises';
import { namespaceInode } from '../../engine/netns.js';
import { closeWaitAndListenQueueLines } from '../../procfs/net-tcp.js';
import type { TcpNamespace, TcpReadingText } from './parse.js';

export { findNamespaces, nodeNamespace, withNamespace } from '../../engine/node-netns.js';

/**
 * Read no more than this many network namespaces per reading. Each read of /proc/<pid>/net/tcp
 * walks the kernel's TCP hash table, which is shared by every namespace unless
 * net.ipv4.tcp_child_ehash_entries gives a namespace its own: the cost grows with namespaces ×
 * sockets on the node (bench/tcp-namespaces.ts). 128 covers a node at the kubelet's default of
 * 110 pods plus host namespaces.
 */
export const defaultMaxNamespaces = 128;

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
