import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import type { CaptureModule } from '../../engine/capture.js';
import { sampleOverWindow } from '../../engine/sampling.js';
import { analyzeTcp, namespaceText } from './analyze.js';
import { defaultMaxNamespaces, findNamespaces, nodeNamespace, readNamespaces, SocketTableReader, withNamespace } from './namespaces.js';
import { parseTcp, type ParsedTcp, type TcpNamespace, type TcpRaw, type TcpReadingText } from './parse.js';
import { closeWaitState, parseProcNetTcp, unreadBytes } from '../../procfs/net-tcp.js';
import { startRetransmitTrace } from './retransmit-trace.js';
import { socketOwners } from './socket-owners.js';

/** At most this many readings per window; a long window stretches the interval instead. */
const maxReadings = 240;

export interface TcpCaptureOptions {
  /** The /proc whose processes lead to the node's network namespaces: the host's for an agent with hostPID. */
  procRoot?: string;
  /** Read no more namespaces than this; the rest are counted in the summary (namespacesSkipped). */
  maxNamespaces?: number;
}

/** The first and last reading of each namespace, and of its socket tables, as read: the artifact to check findings against. */
function readingsText(raw: TcpRaw): string {
  const files = (text: TcpReadingText | undefined) => Object.entries(text ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined);
  return raw.namespaces
    .flatMap((ns) => {
      const read = raw.readings.filter((sample) => sample.data[ns.inode] !== undefined);
      const withTables = read.filter((sample) => sample.data[ns.inode]!.tcp !== undefined);
      const ends = [...new Set([read[0], withTables[0], withTables.at(-1), read.at(-1)])].filter((sample) => sample !== undefined);
      ends.sort((a, b) => a.atMs - b.atMs);
      return ends.flatMap((sample) =>
        files(sample.data[ns.inode]).map(
          ([file, text]) =>
            `==> net:[${ns.inode}] ${namespaceText(ns)}, pid ${ns.pid} (${ns.comm}): net/${file} at +${(sample.atMs / 1000).toFixed(1)}s <==\n${text}`,
        ),
      );
    })
    .join('\n');
}

export function createTcpCapture(options: TcpCaptureOptions = {}): CaptureModule<'tcp', TcpRaw, ParsedTcp> {
  const procRoot = options.procRoot ?? '/proc';
  const maxNamespaces = options.maxNamespaces ?? defaultMaxNamespaces;
  return {
    kind: 'tcp',
    title: 'TCP CLOSE_WAIT backlog and retransmits',
    // tcp6 is read when present; bpftrace, root and the tcp:tcp_retransmit_skb tracepoint add
    // retransmits by remote address, and their absence is reported in the summary, not a failure.
    // Other processes' network namespaces need ptrace read access (root); without it only the
    // agent's own is read.
    requirements: () => [{ file: '/proc/net/tcp' }, { file: '/proc/net/snmp' }, { file: '/proc/net/netstat' }],

    async run(ctx) {
      // The node's own namespace is read at once: finding the pods' namespaces walks /proc and,
      // on a busy node, could otherwise take the whole window before the first reading.
      let namespaces: TcpNamespace[] = [nodeNamespace(procRoot)];
      const intervalSeconds = Math.max(ctx.params.intervalSeconds, Math.ceil(ctx.durationSeconds / maxReadings));
      const start = Date.now();
      // The counters at every reading; the socket tables at each namespace's first reading and at
      // the window's end (the last reading; a timer may fire a little early, hence the margin).
      const tables = new SocketTableReader(procRoot, start, ctx.signal);
      const tabled = new Set<number>();
      const readTablesOfNew = (): void => {
        const fresh = namespaces.filter((ns) => !tabled.has(ns.inode));
        for (const ns of fresh) tabled.add(ns.inode);
        tables.read(fresh);
      };
      let endTablesQueued = false;
      readTablesOfNew();
      const sampling = sampleOverWindow(ctx, intervalSeconds, () => {
        if (!endTablesQueued && Date.now() >= ctx.windowEnd.getTime() - 1000) {
          endTablesQueued = true;
          tables.read(namespaces);
        }
        return readNamespaces(procRoot, namespaces, false);
      });
      const trace = startRetransmitTrace(ctx);
      const found = await findNamespaces({ procRoot, maxNamespaces, workloads: ctx.workloads });
      // /proc/sys/net shows the reader's own network namespace: the node's (hostNetwork).
      const somaxconn = Number.parseInt(await readFile(`${procRoot}/sys/net/core/somaxconn`, 'utf8').catch(() => ''), 10);
      if (found.skipped > 0) ctx.log.warn({ read: found.namespaces.length, skipped: found.skipped }, 'More network namespaces than the tcp capture reads');
      namespaces = withNamespace(found.namespaces, namespaces[0]!);
      if (!endTablesQueued) readTablesOfNew();
      const counters = await sampling;
      const readings = [...counters, ...(await tables.done())].sort((a, b) => a.atMs - b.atMs);
      const retransmitTrace = await trace.stop();
      const littleEndian = endianness() === 'LE';
      // Each namespace's tables at its last reading of them.
      const lastTables = namespaces.flatMap((ns) => {
        const text = readings.findLast((r) => r.data[ns.inode]?.tcp !== undefined)?.data[ns.inode];
        return text ? [text] : [];
      });
      const stuck = lastTables.flatMap((text) =>
        [...parseProcNetTcp(text.tcp ?? '', littleEndian), ...parseProcNetTcp(text.tcp6 ?? '', littleEndian)].filter(
          (s) => s.state === closeWaitState && unreadBytes(s) > 0,
        ),
      );
      const raw: TcpRaw = {
        intervalSeconds,
        littleEndian,
        namespaces,
        skippedNamespaces: found.skipped,
        readings,
        owners: await socketOwners(new Set(stuck.map((s) => s.inode)), { procRoot, workloads: ctx.workloads }),
        retransmitTrace,
        ...(Number.isInteger(somaxconn) ? { somaxconn } : {}),
      };
      await ctx.artifacts.write('readings.txt', readingsText(raw), 'text/plain');
      if (retransmitTrace.state === 'traced') await ctx.artifacts.write('retransmits.json', retransmitTrace.output, 'application/x-ndjson');
      return raw;
    },

    parse: (raw) => parseTcp(raw),
    analyze: (parsed, params) => analyzeTcp(parsed, params),
  };
}

export const tcpCapture = createTcpCapture();
