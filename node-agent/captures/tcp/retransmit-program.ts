import { findMap, mergeNumbers, parseBpftraceOutput } from '../../engine/bpftrace-output.js';

/**
 * Counts retransmitted segments by remote address and port in a kernel map: bpftrace prints the
 * map once, when it stops, never one line per packet. The map is bounded by bpftrace's map size
 * (4096 keys by default).
 */
export const retransmitProgram = `tracepoint:tcp:tcp_retransmit_skb
{
  if (args->family == 2) {
    @retransmits[ntop(args->daddr), args->dport] = count();
  } else {
    @retransmits[ntop(args->daddr_v6), args->dport] = count();
  }
}`;

export interface RemoteRetransmits {
  address: string;
  port: number;
  count: number;
}

/**
 * Reads the @retransmits map from `bpftrace -f json` output (a two-key map prints its keys as
 * "address,port").
 */
export function parseRetransmitMap(output: string): RemoteRetransmits[] {
  const counts = mergeNumbers(findMap(parseBpftraceOutput(output), '@retransmits', 'map')?.entries ?? [], 'sum');
  return [...counts]
    .map(([key, count]) => {
      const comma = key.lastIndexOf(',');
      return { address: key.slice(0, comma), port: Number(key.slice(comma + 1)), count };
    })
    .sort((a, b) => b.count - a.count || a.address.localeCompare(b.address) || a.port - b.port);
}
