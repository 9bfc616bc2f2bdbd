import type { NodeNamespace } from '../../engine/node-netns.js';
import type { Sample } from '../../engine/sampling.js';
import { closeWaitState, listenState, parseProcNetTcp, type TcpSocket } from '../../procfs/net-tcp.js';
import { parseRetransmitMap, type RemoteRetransmits } from './retransmit-program.js';
import { parseSnmp } from '../../procfs/snmp.js';
import type { SocketOwner } from './socket-owners.js';

/**
 * One reading of one network namespace: the whole SNMP counter files, and at the window's first
 * and last reading the CLOSE_WAIT lines of tcp/tcp6 and its listeners with a non-empty accept
 * queue (the socket tables are costly to read).
 */
export interface TcpReadingText {
  /** Undefined in readings between the first and the last. */
  tcp?: string;
  /** Undefined when the node has no IPv6. */
  tcp6?: string;
  snmp: string;
  netstat: string;
}

/** A network namespace the capture read, through one of its processes. */
/** A network namespace the capture reads (node-agent/engine/node-netns.ts). */
export type TcpNamespace = NodeNamespace;

/** The tcp:tcp_retransmit_skb trace: its bpftrace output, or why there is none. */
export type RetransmitTrace = { state: 'traced'; output: string } | { state: 'unavailable' | 'failed'; reason: string };

export interface TcpRaw {
  intervalSeconds: number;
  /** The byte order /proc/net/tcp addresses were printed in (os.endianness()). */
  littleEndian: boolean;
  namespaces: TcpNamespace[];
  /** Namespaces on the node beyond the capture's bound, not read. */
  skippedNamespaces: number;
  /** Each reading holds the namespaces read at that time, by inode. */
  readings: Sample<Record<string, TcpReadingText>>[];
  /** Processes holding the CLOSE_WAIT sockets with unread data, by socket inode (inodes are unique across namespaces). */
  owners: Record<string, SocketOwner[]>;
  retransmitTrace: RetransmitTrace;
  /** net.core.somaxconn of the node's own network namespace, where it could be read. */
  somaxconn?: number;
}

export interface TcpReading {
  atMs: number;
  /** Undefined where the socket tables were not read. */
  closeWait?: TcpSocket[];
  /** Listeners with connections waiting in their accept queue (rxQueue is its length); undefined where the tables were not read. */
  listeners?: TcpSocket[];
  /** The Tcp section of /proc/net/snmp. */
  tcp: Record<string, number>;
  /** The TcpExt section of /proc/net/netstat. */
  tcpExt: Record<string, number>;
}

/** One namespace's readings, in time order; a namespace that appeared or vanished mid-window has fewer. */
export interface NamespaceTcp extends TcpNamespace {
  readings: TcpReading[];
}

export interface ParsedTcp {
  intervalSeconds: number;
  namespaces: NamespaceTcp[];
  skippedNamespaces: number;
  owners: Record<string, SocketOwner[]>;
  /** Retransmitted segments by remote address and port; undefined when they were not traced. */
  retransmitsByRemote?: RemoteRetransmits[];
  /** Why they were not traced. */
  retransmitNote?: string;
  /** net.core.somaxconn of the node's own network namespace, where it could be read. */
  somaxconn?: number;
}

function parseReading(atMs: number, data: TcpReadingText, littleEndian: boolean): TcpReading {
  const sockets = data.tcp !== undefined ? [...parseProcNetTcp(data.tcp, littleEndian), ...parseProcNetTcp(data.tcp6 ?? '', littleEndian)] : undefined;
  return {
    atMs,
    ...(sockets
      ? {
          closeWait: sockets.filter((s) => s.state === closeWaitState),
          listeners: sockets.filter((s) => s.state === listenState && s.rxQueue > 0),
        }
      : {}),
    tcp: parseSnmp(data.snmp).Tcp ?? {},
    tcpExt: parseSnmp(data.netstat).TcpExt ?? {},
  };
}

export function parseTcp(raw: TcpRaw): ParsedTcp {
  return {
    intervalSeconds: raw.intervalSeconds,
    namespaces: raw.namespaces.map((ns) => ({
      ...ns,
      readings: raw.readings.flatMap(({ atMs, data }) => {
        const text = data[ns.inode];
        return text ? [parseReading(atMs, text, raw.littleEndian)] : [];
      }),
    })),
    skippedNamespaces: raw.skippedNamespaces,
    owners: raw.owners,
    ...(raw.somaxconn !== undefined ? { somaxconn: raw.somaxconn } : {}),
    ...(raw.retransmitTrace.state === 'traced'
      ? { retransmitsByRemote: parseRetransmitMap(raw.retransmitTrace.output) }
      : { retransmitNote: raw.retransmitTrace.reason }),
  };
}
