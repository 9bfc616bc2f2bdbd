import type { CaptureParams } from '../../../api/v1alpha1/captures.js';
import type { Finding, Severity } from '../../../api/v1alpha1/finding.js';
import type { CaptureAnalysis, Summary } from '../../engine/capture.js';
import { findingPods, podText, workloadText } from '../../engine/workload.js';
import { evidence, formatBytes } from '../../../lib/findings.js';
import type { NamespaceTcp, ParsedTcp, TcpNamespace, TcpReading } from './parse.js';
import { unreadBytes, type Endpoint, type TcpSocket } from '../../procfs/net-tcp.js';
import type { RemoteRetransmits } from './retransmit-program.js';

/**
 * Thresholds. A retransmit rate is only meaningful over enough segments: below ~1000, one lossy
 * client moves it by whole percent points. Healthy data-centre paths retransmit well under 0.1%;
 * at 1% loss TCP throughput and tail latency already suffer (each timeout stalls a connection for
 * at least the 200 ms minimum RTO); at 5% connections crawl.
 * A thousand stuck sockets (or 64 MiB of unread data, all charged to net.ipv4.tcp_mem) is where a
 * CLOSE_WAIT backlog starts to hurt the whole node: descriptors, ports, socket memory.
 */
export const tcpThresholds = {
  minOutSegs: 1000,
  retransmitRate: 0.01,
  criticalRetransmitRate: 0.05,
  criticalCloseWaitSockets: 1000,
  criticalUnreadBytes: 64 * 1024 * 1024,
  /** Every dropped connection attempt costs its client a SYN retransmit (1 s, then 3 s, ...); ten a second is a fleet of hangs. */
  criticalListenDropsPerSecond: 10,
  /** net.core.somaxconn's default since Linux 5.4 (SOMAXCONN, commit 19f92a030ca6); 128 before. */
  somaxconnDefault: 4096,
} as const;

const maxGroups = 8;
const maxRemotes = 3;

function endpointText(endpoint: Endpoint): string {
  return endpoint.address.includes(':') ? `[${endpoint.address}]:${endpoint.port}` : `${endpoint.address}:${endpoint.port}`;
}

function counterDelta(first: Record<string, number>, last: Record<string, number>, name: string): number {
  return Math.max(0, (last[name] ?? 0) - (first[name] ?? 0));
}

/** Where a namespace belongs: "the host", "pod shop/web-1 (Deployment/web)", or a host process's own namespace. */
export function namespaceText(ns: TcpNamespace): string {
  if (ns.host) return 'the host';
  if (!ns.workload) return `net:[${ns.inode}] (its process ${ns.pid} exited)`;
  if (ns.workload.host) return `net:[${ns.inode}] of host process ${ns.pid} (${ns.comm})`;
  return podText(ns.workload);
}

interface LocalGroup {
  namespace: NamespaceTcp;
  local: string;
  sockets: TcpSocket[];
}

function groupByLocal(namespace: NamespaceTcp, sockets: TcpSocket[]): LocalGroup[] {
  const groups = new Map<string, TcpSocket[]>();
  for (const socket of sockets) {
    const key = endpointText(socket.local);
    groups.set(key, [...(groups.get(key) ?? []), socket]);
  }
  return [...groups].map(([local, members]) => ({ namespace, local, sockets: members }));
}

function groupLine(group: LocalGroup, parsed: ParsedTcp, severalNamespaces: boolean): string {
  const bytes = group.sockets.reduce((sum, s) => sum + unreadBytes(s), 0);
  const remotes = [...new Set(group.sockets.map((s) => s.remote.address))];
  const owners = new Map<number, string>();
  for (const socket of group.sockets)
    for (const owner of parsed.owners[socket.inode] ?? []) owners.set(owner.pid, `${owner.comm}${owner.workload ? `, ${workloadText(owner.workload)}` : ''}`);
  const uids = [...new Set(group.sockets.map((s) => s.uid))];
  return (
    `${severalNamespaces || !group.namespace.host ? `in ${namespaceText(group.namespace)}, ` : ''}` +
    `local ${group.local}: ${group.sockets.length} socket${group.sockets.length === 1 ? '' : 's'}, ${formatBytes(bytes)} unread, ` +
    `from ${remotes.length} remote address${remotes.length === 1 ? '' : 'es'} (${remotes.slice(0, maxRemotes).join(', ')}${remotes.length > maxRemotes ? ', ...' : ''}), ` +
    `uid ${uids.join(', ')}` +
    (owners.size > 0 ? `, held by ${[...owners].map(([pid, comm]) => `pid ${pid} (${comm})`).join(', ')}` : ', owner not found')
  );
}

/** CLOSE_WAIT sockets of one namespace at the end of the window, with data, and how many were there from its first reading. */
interface NamespaceBacklog {
  namespace: NamespaceTcp;
  withData: TcpSocket[];
  stuck: number;
  finOnly: number;
}

/** The readings of a namespace that read its socket tables: the window's first and last. */
function tables(namespace: NamespaceTcp): TcpSocket[][] {
  return namespace.readings.flatMap((r) => (r.closeWait ? [r.closeWait] : []));
}

function backlogOf(namespace: NamespaceTcp): NamespaceBacklog | undefined {
  const read = tables(namespace);
  const first = read[0];
  const last = read.at(-1);
  if (!first || !last) return undefined;
  const withData = last.filter((s) => unreadBytes(s) > 0);
  const atStart = new Set(first.filter((s) => unreadBytes(s) > 0).map((s) => s.inode));
  const stuck = read.length > 1 ? withData.filter((s) => atStart.has(s.inode)).length : 0;
  return { namespace, withData, stuck, finOnly: last.length - withData.length };
}

function closeWaitFinding(parsed: ParsedTcp, seconds: number, params: CaptureParams<'tcp'>): Finding | undefined {
  const backlogs = parsed.namespaces.map(backlogOf).filter((b): b is NamespaceBacklog => b !== undefined && b.withData.length > 0);
  const withData = backlogs.flatMap((b) => b.withData);
  if (withData.length === 0 || withData.length < params.closeWaitMinSockets) return undefined;
  const bytes = withData.reduce((sum, s) => sum + unreadBytes(s), 0);
  const stuck = backlogs.reduce((sum, b) => sum + b.stuck, 0);
  const finOnly = parsed.namespaces.map(backlogOf).reduce((sum, b) => sum + (b?.finOnly ?? 0), 0);
  const severity: Severity = withData.length >= tcpThresholds.criticalCloseWaitSockets || bytes >= tcpThresholds.criticalUnreadBytes ? 'critical' : 'warning';
  const groups = backlogs
    .flatMap((b) => groupByLocal(b.namespace, b.withData))
    .sort((a, b) => b.sockets.length - a.sockets.length || a.local.localeCompare(b.local));
  const severalNamespaces = backlogs.length > 1;
  const where = severalNamespaces
    ? ` in ${backlogs.length} network namespaces`
    : backlogs[0]!.namespace.host
      ? ''
      : ` in ${namespaceText(backlogs[0]!.namespace)}`;
  const lines = [
    `${withData.length} sockets in CLOSE_WAIT with ${formatBytes(bytes)} of unread data at the end of the window ` +
      `(threshold ${params.closeWaitMinSockets}); ${stuck} of them were already there ${seconds.toFixed(1)}s earlier`,
    ...groups.slice(0, maxGroups).map((g) => groupLine(g, parsed, severalNamespaces)),
  ];
  if (groups.length > maxGroups) lines.push(`... and ${groups.length - maxGroups} more local addresses`);
  if (finOnly > 0) lines.push(`${finOnly} more CLOSE_WAIT sockets hold only the peer's unread FIN (Recv-Q 1)`);
  return {
    pattern: 'tcp-close-wait-backlog',
    severity,
    title: `${withData.length} TCP socket${withData.length === 1 ? '' : 's'} in CLOSE_WAIT hold ${formatBytes(bytes)} of unread data${where}`,
    evidence: evidence(lines, 12),
    ...findingPods([
      ...backlogs.map((b) => b.namespace.workload),
      ...withData.flatMap((socket) => (parsed.owners[socket.inode] ?? []).map((owner) => owner.workload)),
    ]),
    recommendation:
      'The peers closed these connections, but the local side has neither read the rest of the data nor closed the ' +
      'socket: a process that leaks connections or stopped servicing them, or, rarely, a kernel bug that leaves data ' +
      'in the receive queue. Look at the owning process and its threads (ss -tnp state close-wait, inside a pod: ' +
      'nsenter -t <pid> -n ss -tnp), fix or restart it. There is no sysctl mitigation: tcp_fin_timeout only applies to ' +
      'FIN_WAIT_2, and keepalive only reaps sockets that enabled SO_KEEPALIVE and whose peer has gone. Until the ' +
      'sockets are closed, their unread data counts against net.ipv4.tcp_mem for the whole node.',
  };
}

interface RetransmitFigures {
  outSegs: number;
  retransSegs: number;
  rate: number;
  timeouts: number;
  synRetrans: number;
  lostRetransmit: number;
  fastRetrans: number;
  lossProbes: number;
  spuriousRtos: number;
  listenOverflows: number;
  listenDrops: number;
}

function retransmitFigures(first: TcpReading, last: TcpReading): RetransmitFigures {
  const tcp = (name: string): number => counterDelta(first.tcp, last.tcp, name);
  const ext = (name: string): number => counterDelta(first.tcpExt, last.tcpExt, name);
  const outSegs = tcp('OutSegs');
  const retransSegs = tcp('RetransSegs');
  return {
    outSegs,
    retransSegs,
    rate: outSegs > 0 ? retransSegs / outSegs : 0,
    timeouts: ext('TCPTimeouts'),
    synRetrans: ext('TCPSynRetrans'),
    lostRetransmit: ext('TCPLostRetransmit'),
    fastRetrans: ext('TCPFastRetrans'),
    lossProbes: ext('TCPLossProbes'),
    spuriousRtos: ext('TCPSpuriousRTOs'),
    listenOverflows: ext('ListenOverflows'),
    listenDrops: ext('ListenDrops'),
  };
}

/** The figures of every namespace read at least twice, and their sum (the node's, as far as it was read). */
function namespaceFigures(parsed: ParsedTcp): { namespace: NamespaceTcp; figures: RetransmitFigures }[] {
  return parsed.namespaces.flatMap((namespace) => {
    const first = namespace.readings[0];
    const last = namespace.readings.at(-1);
    return first && last && namespace.readings.length > 1 ? [{ namespace, figures: retransmitFigures(first, last) }] : [];
  });
}

function sumFigures(all: RetransmitFigures[]): RetransmitFigures {
  const total = all.reduce(
    (sum, f) => {
      for (const key of Object.keys(sum) as (keyof RetransmitFigures)[]) if (key !== 'rate') sum[key] += f[key];
      return sum;
    },
    {
      outSegs: 0,
      retransSegs: 0,
      rate: 0,
      timeouts: 0,
      synRetrans: 0,
      lostRetransmit: 0,
      fastRetrans: 0,
      lossProbes: 0,
      spuriousRtos: 0,
      listenOverflows: 0,
      listenDrops: 0,
    },
  );
  total.rate = total.outSegs > 0 ? total.retransSegs / total.outSegs : 0;
  return total;
}

function remotesText(remotes: RemoteRetransmits[], max = 5): string {
  return remotes
    .slice(0, max)
    .map((r) => `${endpointText(r)} ×${r.count}`)
    .join(', ');
}

function isLossy(figures: RetransmitFigures): boolean {
  return figures.outSegs >= tcpThresholds.minOutSegs && figures.rate >= tcpThresholds.retransmitRate;
}

const maxLossyNamespaces = 5;

/** One finding for the namespaces that retransmit too much, the worst first; its details are the worst's. */
function retransmitFinding(parsed: ParsedTcp, perNamespace: { namespace: NamespaceTcp; figures: RetransmitFigures }[], seconds: number): Finding | undefined {
  const lossy = perNamespace.filter((n) => isLossy(n.figures)).sort((a, b) => b.figures.rate - a.figures.rate || b.figures.retransSegs - a.figures.retransSegs);
  const worst = lossy[0];
  if (!worst) return undefined;
  const figures = worst.figures;
  const percent = (figures.rate * 100).toFixed(2);
  const nsLine = ({ namespace, figures: f }: (typeof lossy)[number]): string =>
    `in ${namespaceText(namespace)}: RetransSegs +${f.retransSegs} of OutSegs +${f.outSegs} (${(f.rate * 100).toFixed(2)}%) in ${seconds.toFixed(1)}s`;
  const lines = [
    ...lossy.slice(0, maxLossyNamespaces).map(nsLine),
    ...(lossy.length > maxLossyNamespaces ? [`... and ${lossy.length - maxLossyNamespaces} more network namespaces`] : []),
    `thresholds: ${tcpThresholds.retransmitRate * 100}% over at least ${tcpThresholds.minOutSegs} segments, per network namespace`,
    `in ${namespaceText(worst.namespace)}: retransmission timeouts (TCPTimeouts) +${figures.timeouts}: each stalls its connection for at least the 200 ms minimum RTO`,
    `SYN retransmits +${figures.synRetrans}, fast retransmits +${figures.fastRetrans}, tail loss probes +${figures.lossProbes}, ` +
      `lost retransmits +${figures.lostRetransmit}, spurious RTOs +${figures.spuriousRtos}`,
    parsed.retransmitsByRemote
      ? parsed.retransmitsByRemote.length > 0
        ? `retransmitted segments by remote address (tcp:tcp_retransmit_skb, whole node): ${remotesText(parsed.retransmitsByRemote)}`
        : 'tcp:tcp_retransmit_skb saw no retransmits on the node'
      : `retransmits by remote address: not traced (${parsed.retransmitNote ?? 'unknown reason'})`,
  ];
  if (figures.listenOverflows > 0) lines.push(`listen queue overflows +${figures.listenOverflows}, dropped SYNs +${figures.listenDrops}`);
  return {
    pattern: 'tcp-retransmits',
    severity: figures.rate >= tcpThresholds.criticalRetransmitRate ? 'critical' : 'warning',
    title: `TCP retransmitted ${percent}% of segments during the window${worst.namespace.host ? '' : ` in ${namespaceText(worst.namespace)}`}${lossy.length > 1 ? ` (and ${lossy.length - 1} more network namespaces)` : ''}`,
    evidence: evidence(lines, 12),
    recommendation:
      'Segments were lost or acknowledged too late. If a few remote addresses dominate, look at the path to them ' +
      '(NIC, MTU, a middlebox, the peer itself); if every peer is affected, look at this node: drops in the NIC ring ' +
      'or qdisc (ethtool -S, tc -s qdisc), CPU saturation in softirq, or a kernel regression in the TCP stack. ' +
      'A single pod’s namespace points to its own traffic or its veth and CNI path. ' +
      'Compare nodes by kernel version (compareBy) and profile the kernel with the cpu-profile capture.',
  };
}

const maxListeners = 5;

/** Listeners with connections waiting in their accept queue at the end of the window, the longest queue first. */
function queuedListeners(namespace: NamespaceTcp): TcpSocket[] {
  const last = namespace.readings.findLast((r) => r.listeners !== undefined)?.listeners ?? [];
  return [...last].sort((a, b) => b.rxQueue - a.rxQueue || endpointText(a.local).localeCompare(endpointText(b.local)));
}

/**
 * Connection attempts a listener dropped (ListenDrops; ListenOverflows of them because its accept
 * queue was full), per namespace. A sysctl is suggested only where the node's own namespace
 * dropped them and its net.core.somaxconn, which caps every listener's queue there, is below the
 * default of current kernels: the other namespaces' values are not read.
 */
function listenOverflowFinding(
  parsed: ParsedTcp,
  perNamespace: { namespace: NamespaceTcp; figures: RetransmitFigures }[],
  seconds: number,
): Finding | undefined {
  const dropping = perNamespace
    .filter((n) => n.figures.listenDrops + n.figures.listenOverflows > 0)
    .sort((a, b) => b.figures.listenDrops - a.figures.listenDrops || a.namespace.inode - b.namespace.inode);
  if (dropping.length === 0) return undefined;
  const drops = dropping.reduce((sum, n) => sum + Math.max(n.figures.listenDrops, n.figures.listenOverflows), 0);
  const overflows = dropping.reduce((sum, n) => sum + n.figures.listenOverflows, 0);
  const rate = seconds > 0 ? drops / seconds : drops;
  const somaxconn = parsed.somaxconn;
  const lines: string[] = [];
  for (const { namespace, figures } of dropping.slice(0, maxLossyNamespaces)) {
    lines.push(
      `in ${namespaceText(namespace)}: ListenDrops +${figures.listenDrops}, ListenOverflows +${figures.listenOverflows} ` +
        `(the accept queue was full) in ${seconds.toFixed(1)}s`,
    );
    for (const listener of queuedListeners(namespace).slice(0, maxListeners)) {
      const capped = namespace.host && somaxconn !== undefined && listener.rxQueue > somaxconn;
      lines.push(
        `  listener ${endpointText(listener.local)}: ${listener.rxQueue} connection${listener.rxQueue === 1 ? '' : 's'} waiting to be accepted at the end of the window` +
          (capped ? ` (full: net.core.somaxconn = ${somaxconn} caps the queue)` : ''),
      );
    }
  }
  if (dropping.length > maxLossyNamespaces) lines.push(`... and ${dropping.length - maxLossyNamespaces} more network namespaces`);
  const hostDropped = dropping.some((n) => n.namespace.host);
  if (somaxconn !== undefined) {
    lines.push(`net.core.somaxconn = ${somaxconn} in the node's network namespace (the kernel's default since Linux 5.4 is ${tcpThresholds.somaxconnDefault})`);
  }
  const suggest = hostDropped && somaxconn !== undefined && somaxconn < tcpThresholds.somaxconnDefault;
  const where = dropping.length === 1 && !dropping[0]!.namespace.host ? ` in ${namespaceText(dropping[0]!.namespace)}` : '';
  return {
    pattern: 'tcp-listen-overflow',
    severity: rate >= tcpThresholds.criticalListenDropsPerSecond ? 'critical' : 'warning',
    title: `Listeners dropped ${drops} connection attempt${drops === 1 ? '' : 's'} during the window${overflows > 0 ? ', their accept queues full' : ''}${where}`,
    evidence: evidence(lines, 16),
    recommendation:
      'Connection attempts were dropped because a listening socket’s accept queue was full: the application accepts ' +
      'connections more slowly than they arrive (a stalled or saturated accept loop), or its queue is short. Each dropped ' +
      'attempt costs the client a SYN retransmit (1 s, then 3 s, ...), seen as connections that hang. A queue holds ' +
      'min(the backlog the application passes to listen(), net.core.somaxconn); `ss -ltn` shows each listener’s limit ' +
      '(Send-Q) and queue (Recv-Q). Fix the accept loop or raise the application’s backlog' +
      (suggest
        ? `; net.core.somaxconn = ${somaxconn} caps every queue on this node below what current kernels allow (suggested mitigation: it helps applications that ask for a larger backlog, as Go, nginx and Node.js do).`
        : '. Raising net.core.somaxconn only helps where it, not the application’s backlog, is the limit.'),
    ...(suggest
      ? {
          suggestedMitigation: {
            sysctls: [{ name: 'net.core.somaxconn', value: String(tcpThresholds.somaxconnDefault) }],
            reason:
              `net.core.somaxconn is ${somaxconn} on this node and caps every listener’s accept queue, whatever backlog the ` +
              `application asked for; ${tcpThresholds.somaxconnDefault} is the kernel’s default since Linux 5.4.`,
          },
        }
      : {}),
  };
}

export function analyzeTcp(parsed: ParsedTcp, params: CaptureParams<'tcp'>): CaptureAnalysis {
  const spans = parsed.namespaces.filter((n) => n.readings.length > 0);
  if (spans.length === 0) return { summary: { readings: 0, networkNamespaces: 0 }, findings: [] };
  const first = Math.min(...spans.map((n) => n.readings[0]!.atMs));
  const last = Math.max(...spans.map((n) => n.readings.at(-1)!.atMs));
  const seconds = (last - first) / 1000;
  const perNamespace = namespaceFigures(parsed);
  const figures = sumFigures(perNamespace.map((n) => n.figures));
  const atEnd = spans.map((n) => n.readings.at(-1)!);
  const closeWait = spans.flatMap((n) => tables(n).at(-1) ?? []);
  const withData = closeWait.filter((s) => unreadBytes(s) > 0);
  const summary: Summary = {
    readings: Math.max(...spans.map((n) => n.readings.length)),
    intervalSeconds: parsed.intervalSeconds,
    windowSeconds: Number(seconds.toFixed(1)),
    networkNamespaces: spans.length,
    namespacesSkipped: parsed.skippedNamespaces,
    namespacesWithCloseWaitData: spans.filter((n) => (tables(n).at(-1) ?? []).some((s) => unreadBytes(s) > 0)).length,
    closeWaitSockets: closeWait.length,
    closeWaitWithData: withData.length,
    closeWaitUnreadBytes: withData.reduce((sum, s) => sum + unreadBytes(s), 0),
    currEstab: atEnd.reduce((sum, r) => sum + (r.tcp.CurrEstab ?? 0), 0),
    outSegs: figures.outSegs,
    retransSegs: figures.retransSegs,
    retransmitPercent: Number((figures.rate * 100).toFixed(3)),
    tcpTimeouts: figures.timeouts,
    synRetrans: figures.synRetrans,
    listenOverflows: figures.listenOverflows,
    listenDrops: figures.listenDrops,
    ...(parsed.somaxconn !== undefined ? { somaxconn: parsed.somaxconn } : {}),
    retransmitsByRemote: parsed.retransmitsByRemote
      ? remotesText(parsed.retransmitsByRemote) || 'none traced'
      : `not traced: ${parsed.retransmitNote ?? 'unknown reason'}`,
  };
  const findings = [
    closeWaitFinding(parsed, seconds, params),
    retransmitFinding(parsed, perNamespace, seconds),
    listenOverflowFinding(parsed, perNamespace, seconds),
  ].filter((f): f is Finding => f !== undefined);
  return { summary, findings };
}
