import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import type { CaptureModule } from '../../engine/capture.js';
import { sampleOverWindow } from '../../engine/sampling.js';
import { analyzeTcp, namespaceText } from './analyze.js';
import { defaultMaxNamespaces, findNamespaces, nodeNamespace, readNamespaces, withNamespace } from './namespaces.js';
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

/** The first and last reading of each namespace, as read: the artifact to check findings against. */
function readingsText(raw: TcpRaw): string {
  const files = (text: TcpReadingText | undefined) => Object.entries(text ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined);
  return raw.namespaces
    .flatMap((ns) => {
      const read = raw.readings.filter((sample) => sample.data[ns.inode] !== undefined);
      const ends = read.length > 1 ? [read[0]!, read.at(-1)!] : read;
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
      const withTables = new Set<number>();
      const intervalSeconds = Math.max(ctx.params.intervalSeconds, Math.ceil(ctx.durationSeconds / maxReadings));
      // The socket tables at each namespace's first reading and at the window's end (the last
      // reading; a timer may fire a little early, hence the margin), the counters at every one.
      const readFresh = (): Promise<Record<string, TcpReadingText>> => {
        const fresh = namespaces.filter((ns) => !withTables.has(ns.inode));
        for (const ns of fresh) withTables.add(ns.inode);
        return readNamespaces(procRoot, fresh, true);
      };
      const start = Date.now();
      const sampling = sampleOverWindow(ctx, intervalSeconds, async () => {
        const atEnd = Date.now() >= ctx.windowEnd.getTime() - 1000;
        const known = namespaces.filter((ns) => withTables.has(ns.inode));
        return { ...(await readFresh()), ...(await readNamespaces(procRoot, known, atEnd)) };
      });
      const trace = startRetransmitTrace(ctx);
      const found = await findNamespaces({ procRoot, maxNamespaces, workloads: ctx.workloads });
      // /proc/sys/net shows the reader's own network namespace: the node's (hostNetwork).
      const somaxconn = Number.parseInt(await readFile(`${procRoot}/sys/net/core/somaxconn`, 'utf8').catch(() => ''), 10);
      if (found.skipped > 0) ctx.log.warn({ read: found.namespaces.length, skipped: found.skipped }, 'More network namespaces than the tcp capture reads');
      namespaces = withNamespace(found.namespaces, namespaces[0]!);
      // The namespaces just found get their first reading now, not an interval later.
      const late = ctx.signal.aborted || Date.now() >= ctx.windowEnd.getTime() ? undefined : { atMs: Date.now() - start, data: await readFresh() };
      const readings = [...(await sampling), ...(late && Object.keys(late.data).length > 0 ? [late] : [])].sort((a, b) => a.atMs - b.atMs);
      const retransmitTrace = await trace.stop();
      const littleEndian = endianness() === 'LE';
      const lastTables = readings.findLast((r) => Object.values(r.data).some((text) => text.tcp !== undefined)) ?? readings[0]!;
      const stuck = Object.values(lastTables.data).flatMap((text) =>
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
