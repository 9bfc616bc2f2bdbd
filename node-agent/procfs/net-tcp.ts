/** Parsers for /proc/net/tcp and /proc/net/tcp6. Pure. */

export const tcpStates = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
  '0C': 'NEW_SYN_RECV',
} as const;

export const closeWaitState = '08';
export const listenState = '0A';

export interface Endpoint {
  address: string;
  port: number;
}

export interface TcpSocket {
  local: Endpoint;
  remote: Endpoint;
  /** The two-digit hex state, as in tcpStates. */
  state: string;
  txQueue: number;
  /** rcv_nxt - copied_seq: unread bytes, plus 1 for a FIN the application has not read yet. */
  rxQueue: number;
  uid: number;
  inode: number;
}

/**
 * The kernel prints each 32-bit word of an address with %08X from host memory, so on a
 * little-endian machine the bytes of every word come out reversed.
 */
function wordBytes(hex: string, littleEndian: boolean): number[] {
  const bytes = [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return littleEndian ? bytes.reverse() : bytes;
}

export function decodeAddress(hex: string, littleEndian = true): string {
  const bytes: number[] = [];
  for (let i = 0; i < hex.length; i += 8) bytes.push(...wordBytes(hex.slice(i, i + 8), littleEndian));
  if (bytes.length === 4) return bytes.join('.');
  return formatIpv6(bytes);
}

/** RFC 5952 text form: lower case, the longest run of zero groups as "::", IPv4-mapped as dotted. */
export function formatIpv6(bytes: number[]): string {
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${bytes.slice(12).join('.')}`;
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

function endpoint(field: string, littleEndian: boolean): Endpoint {
  const [address, port] = field.split(':');
  return { address: decodeAddress(address!, littleEndian), port: parseInt(port!, 16) };
}

export function parseProcNetTcp(text: string, littleEndian = true): TcpSocket[] {
  const sockets: TcpSocket[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (!/^\d+:$/.test(fields[0] ?? '') || fields.length < 10) continue;
    const [tx, rx] = fields[4]!.split(':');
    sockets.push({
      local: endpoint(fields[1]!, littleEndian),
      remote: endpoint(fields[2]!, littleEndian),
      state: fields[3]!.toUpperCase(),
      txQueue: parseInt(tx!, 16),
      rxQueue: parseInt(rx!, 16),
      uid: Number(fields[7]),
      inode: Number(fields[9]),
    });
  }
  return sockets;
}

/**
 * The header and the CLOSE_WAIT lines of /proc/net/tcp{,6}: run() keeps only these, so a node
 * with 100k sockets does not hold megabytes per reading.
 */
export function closeWaitLines(text: string): string {
  return text
    .split('\n')
    .filter((line, i) => i === 0 || line.trim().split(/\s+/, 5)[3] === closeWaitState)
    .join('\n');
}

/**
 * The header, the CLOSE_WAIT lines and the listeners with connections waiting in their accept
 * queue (a listener's Recv-Q is its accept queue's length): what the tcp capture keeps of a table.
 */
export function closeWaitAndListenQueueLines(text: string): string {
  return text
    .split('\n')
    .filter((line, i) => {
      if (i === 0) return true;
      const fields = line.trim().split(/\s+/, 5);
      return fields[3] === closeWaitState || (fields[3] === listenState && /:0*[1-9a-fA-F][0-9a-fA-F]*$/.test(fields[4] ?? ''));
    })
    .join('\n');
}

/** Unread data bytes of a CLOSE_WAIT socket: the peer's FIN takes one sequence number until read. */
export function unreadBytes(socket: TcpSocket): number {
  return socket.state === closeWaitState ? Math.max(0, socket.rxQueue - 1) : socket.rxQueue;
}

/** Sockets in CLOSE_WAIT in one /proc/net/tcp or tcp6 text. */
export interface CloseWaitCensus {
  sockets: number;
  /** Those whose receive queue holds data beyond the peer's FIN. */
  withData: number;
  unreadBytes: number;
}

/**
 * Counts CLOSE_WAIT sockets without splitting the text into lines: a node with 100k sockets
 * prints megabytes, read every minute by the watch. The state column is the only field printed
 * as exactly two hex digits between spaces (addresses, queues, timers and the retransmit count
 * are wider, uid, timeout and inode are decimal without leading zeros), so " 08 " finds it; the
 * receive queue is the second half of the next field (tx_queue:rx_queue).
 */
export function closeWaitCensus(text: string): CloseWaitCensus {
  const census: CloseWaitCensus = { sockets: 0, withData: 0, unreadBytes: 0 };
  const marker = ` ${closeWaitState} `;
  for (let at = text.indexOf(marker); at >= 0; at = text.indexOf(marker, at + marker.length)) {
    const queues = text.slice(at + marker.length, at + marker.length + 17);
    if (queues[8] !== ':') continue;
    const unread = Math.max(0, parseInt(queues.slice(9), 16) - 1);
    census.sockets++;
    if (unread > 0) {
      census.withData++;
      census.unreadBytes += unread;
    }
  }
  return census;
}
