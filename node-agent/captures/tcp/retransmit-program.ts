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
 * Reads the @retransmits map from `bpftrace -f json` output (one JSON object per line; a
 * two-key map prints its keys as "address,port"). Lines that are not JSON are ignored.
 */
export function parseRetransmitMap(output: string): RemoteRetransmits[] {
  const entries: RemoteRetransmits[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    let message: { type?: string; data?: Record<string, unknown> };
    try {
      message = JSON.parse(line) as typeof message;
    } catch {
      continue;
    }
    const map = message.type === 'map' ? message.data?.['@retransmits'] : undefined;
    if (!map || typeof map !== 'object') continue;
    for (const [key, count] of Object.entries(map as Record<string, number>)) {
      const comma = key.lastIndexOf(',');
      entries.push({ address: key.slice(0, comma), port: Number(key.slice(comma + 1)), count });
    }
  }
  return entries.sort((a, b) => b.count - a.count || a.address.localeCompare(b.address) || a.port - b.port);
}
