import { type Workload, WorkloadResolver } from '../../engine/workload.js';
import { accessSync, constants, readFileSync } from 'node:fs';
import { scanNetworkNamespaces, type NetworkNamespace } from '../../engine/netns.js';
import { closeWaitCensus, type CloseWaitCensus } from '../../procfs/net-tcp.js';
import { parseSnmp } from '../../procfs/snmp.js';
import { formatBytes } from '../../../lib/findings.js';
import { emptySample, type Sample, type Sampler } from './sampler.js';

/** Segments sent in an interval below which a retransmit ratio says nothing (one lossy client moves it by percent points). */
export const minSegmentsForRatio = 1000;

interface NamespaceCensus extends CloseWaitCensus {
  pid: number;
}

function readOptional(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Who a network namespace belongs to, from one of its processes: a pod's is shared by its containers, so only the pod is named. */
function namespaceOwner(workload: Workload | undefined): string {
  if (!workload) return 'a namespace whose process exited';
  if (workload.host) return 'a namespace of a host process, not of a pod';
  return workload.pod ? `pod ${workload.namespace}/${workload.pod}${workload.owner ? ` (${workload.owner})` : ''}` : `pod ${workload.podUid}`;
}

/**
 * CLOSE_WAIT sockets and TCP retransmits in every network namespace of the node (pods have their
 * own), read through one process of each: /proc/<pid>/net/{tcp,tcp6,snmp}, no setns. The SNMP
 * counters of every namespace are read each sample; the socket tables, whose reading walks the
 * kernel's TCP hash, of namespacesPerSample namespaces in turns, so a node with hundreds of pods
 * costs the same per sample. Totals go into the history once every namespace has been counted.
 */
export class TcpSampler implements Sampler {
  readonly name = 'tcp';
  private turn = 0;
  private readonly census = new Map<number, NamespaceCensus>();
  private readonly segments = new Map<number, { sent: number; retransmitted: number }>();
  private namespaces: NetworkNamespace[] = [];
  private initInode?: number;

  constructor(
    private readonly procRoot: string,
    private readonly namespacesPerSample: number,
    private readonly maxNamespaces: number,
    /** Names the pod of a namespace, through its first process. */
    private readonly workloads: () => WorkloadResolver = () => new WorkloadResolver([], procRoot),
  ) {}

  unavailable(): string | undefined {
    for (const file of ['net/tcp', 'net/snmp']) {
      try {
        accessSync(`${this.procRoot}/${file}`, constants.R_OK);
      } catch {
        return `${this.procRoot}/${file} cannot be read`;
      }
    }
    return undefined;
  }

  async sample(): Promise<Sample> {
    const scan = await scanNetworkNamespaces({ procRoot: this.procRoot });
    this.namespaces = scan.namespaces.slice(0, this.maxNamespaces);
    this.initInode = scan.initInode;
    const present = new Set(this.namespaces.map((n) => n.inode));
    for (const map of [this.census, this.segments]) for (const inode of map.keys()) if (!present.has(inode)) map.delete(inode);

    const sample = emptySample();
    let sent = 0;
    let retransmitted = 0;
    for (const ns of this.namespaces) {
      const tcp = parseSnmp(readOptional(`${this.procRoot}/${ns.pid}/net/snmp`)).Tcp;
      if (!tcp) continue;
      const now = { sent: tcp.OutSegs ?? 0, retransmitted: tcp.RetransSegs ?? 0 };
      const before = this.segments.get(ns.inode);
      this.segments.set(ns.inode, now);
      if (!before || now.sent < before.sent) continue;
      sent += now.sent - before.sent;
      retransmitted += Math.max(0, now.retransmitted - before.retransmitted);
    }
    for (let i = 0; i < Math.min(this.namespacesPerSample, this.namespaces.length); i++) {
      const ns = this.namespaces[(this.turn + i) % this.namespaces.length]!;
      const v4 = closeWaitCensus(readOptional(`${this.procRoot}/${ns.pid}/net/tcp`));
      const v6 = closeWaitCensus(readOptional(`${this.procRoot}/${ns.pid}/net/tcp6`));
      this.census.set(ns.inode, {
        pid: ns.pid,
        sockets: v4.sockets + v6.sockets,
        withData: v4.withData + v6.withData,
        unreadBytes: v4.unreadBytes + v6.unreadBytes,
      });
    }
    this.turn = this.namespaces.length > 0 ? (this.turn + this.namespacesPerSample) % this.namespaces.length : 0;

    sample.gauges.push({ metric: 'networkNamespaces', labels: {}, value: this.namespaces.length });
    sample.counters.push(
      { metric: 'tcpSegments', labels: { kind: 'sent' }, by: sent },
      { metric: 'tcpSegments', labels: { kind: 'retransmitted' }, by: retransmitted },
    );
    if (sent >= minSegmentsForRatio) sample.series.push(['tcp.retransmitRatio', retransmitted / sent]);
    if (this.census.size === this.namespaces.length) {
      const total = { sockets: 0, withData: 0, unreadBytes: 0 };
      for (const c of this.census.values()) {
        total.sockets += c.sockets;
        total.withData += c.withData;
        total.unreadBytes += c.unreadBytes;
      }
      sample.series.push(
        ['tcp.closeWait.sockets', total.sockets],
        ['tcp.closeWait.withData', total.withData],
        ['tcp.closeWait.unreadBytes', total.unreadBytes],
      );
      sample.gauges.push(
        { metric: 'closeWaitSockets', labels: { data: 'unread' }, value: total.withData },
        { metric: 'closeWaitSockets', labels: { data: 'fin-only' }, value: total.sockets - total.withData },
        { metric: 'closeWaitUnreadBytes', labels: {}, value: total.unreadBytes },
      );
    }
    return sample;
  }

  /** The namespaces that hold most CLOSE_WAIT sockets with unread data, for trend evidence. */
  context(series: string[]): string[] {
    if (!series.some((s) => s.startsWith('tcp.closeWait.'))) return [];
    const workloads = this.workloads();
    return [...this.census.entries()]
      .filter(([, c]) => c.withData > 0)
      .sort((a, b) => b[1].withData - a[1].withData)
      .slice(0, 5)
      .map(([inode, c]) => {
        const comm = readOptional(`${this.procRoot}/${c.pid}/comm`).trim() || '?';
        const where = inode === this.initInode ? 'the node’s own namespace' : namespaceOwner(workloads.ofPid(c.pid));
        return `network namespace net:[${inode}] (${where}; pid ${c.pid} ${comm}): ${c.withData} sockets in CLOSE_WAIT with ${formatBytes(c.unreadBytes)} unread`;
      });
  }
}
