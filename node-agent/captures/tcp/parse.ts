import type { Sample } from '../../engine/sampling.js';
import { closeWaitState, parseProcNetTcp, type TcpSocket } from '../../procfs/net-tcp.js';
import { parseRetransmitMap, type RemoteRetransmits } from './retransmit-program.js';
import { parseSnmp } from '../../procfs/snmp.js';
import type { SocketOwner } from './socket-owners.js';

/** One reading: the CLOSE_WAIT lines of tcp/tcp6 and the whole SNMP counter files. */
export interface TcpReadingText {
  tcp: string;
  /** Undefined when the node has no IPv6. */
  tcp6?: string;
  snmp: string;
  netstat: string;
}

/** The tcp:tcp_retransmit_skb trace: its bpftrace output, or why there is none. */
export type RetransmitTrace = { state: 'traced'; output: string } | { state: 'unavailable' | 'failed'; reason: string };

export interface TcpRaw {
  intervalSeconds: number;
  /** The byte order /proc/net/tcp addresses were printed in (os.endianness()). */
  littleEndian: boolean;
  readings: Sample<TcpReadingText>[];
  /** Processes holding the CLOSE_WAIT sockets with unread data, by socket inode. */
  owners: Record<string, SocketOwner[]>;
  retransmitTrace: RetransmitTrace;
}

export interface TcpReading {
  atMs: number;
  closeWait: TcpSocket[];
  /** The Tcp section of /proc/net/snmp. */
  tcp: Record<string, number>;
  /** The TcpExt section of /proc/net/netstat. */
  tcpExt: Record<string, number>;
}

export interface ParsedTcp {
  intervalSeconds: number;
  readings: TcpReading[];
  owners: Record<string, SocketOwner[]>;
  /** Retransmitted segments by remote address and port; undefined when they were not traced. */
  retransmitsByRemote?: RemoteRetransmits[];
  /** Why they were not traced. */
  retransmitNote?: string;
}

export function parseTcp(raw: TcpRaw): ParsedTcp {
  return {
    intervalSeconds: raw.intervalSeconds,
    readings: raw.readings.map(({ atMs, data }) => ({
      atMs,
      closeWait: [...parseProcNetTcp(data.tcp, raw.littleEndian), ...parseProcNetTcp(data.tcp6 ?? '', raw.littleEndian)].filter(
        (s) => s.state === closeWaitState,
      ),
      tcp: parseSnmp(data.snmp).Tcp ?? {},
      tcpExt: parseSnmp(data.netstat).TcpExt ?? {},
    })),
    owners: raw.owners,
    ...(raw.retransmitTrace.state === 'traced'
      ? { retransmitsByRemote: parseRetransmitMap(raw.retransmitTrace.output) }
      : { retransmitNote: raw.retransmitTrace.reason }),
  };
}
