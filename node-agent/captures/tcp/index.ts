import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import type { CaptureModule } from '../../engine/capture.js';
import { sampleOverWindow } from '../../engine/sampling.js';
import { analyzeTcp } from './analyze.js';
import { parseTcp, type ParsedTcp, type TcpRaw, type TcpReadingText } from './parse.js';
import { closeWaitLines, parseProcNetTcp, unreadBytes } from '../../procfs/net-tcp.js';
import { startRetransmitTrace } from './retransmit-trace.js';
import { socketOwners } from './socket-owners.js';

/** At most this many readings per window; a long window stretches the interval instead. */
const maxReadings = 240;

export interface TcpCaptureOptions {
  /**
   * Where the network namespace's files are: /proc/net is this process's namespace (the host's
   * for an agent with hostNetwork); /proc/<pid>/net is the namespace of that process.
   */
  procNet?: string;
}

async function readNetFiles(procNet: string): Promise<TcpReadingText> {
  const [tcp, tcp6, snmp, netstat] = await Promise.all([
    readFile(`${procNet}/tcp`, 'utf8'),
    readFile(`${procNet}/tcp6`, 'utf8').catch(() => undefined),
    readFile(`${procNet}/snmp`, 'utf8'),
    readFile(`${procNet}/netstat`, 'utf8'),
  ]);
  return { tcp: closeWaitLines(tcp), ...(tcp6 !== undefined ? { tcp6: closeWaitLines(tcp6) } : {}), snmp, netstat };
}

function readingsText(raw: TcpRaw): string {
  const ends = raw.readings.length > 1 ? [raw.readings[0]!, raw.readings.at(-1)!] : raw.readings;
  return ends
    .flatMap((sample) => Object.entries(sample.data).map(([file, text]) => `==> net/${file} at +${(sample.atMs / 1000).toFixed(1)}s <==\n${text}`))
    .join('\n');
}

export function createTcpCapture(options: TcpCaptureOptions = {}): CaptureModule<'tcp', TcpRaw, ParsedTcp> {
  const procNet = options.procNet ?? '/proc/net';
  return {
    kind: 'tcp',
    title: 'TCP CLOSE_WAIT backlog and retransmits',
    // tcp6 is read when present; bpftrace, root and the tcp:tcp_retransmit_skb tracepoint add
    // retransmits by remote address, and their absence is reported in the summary, not a failure.
    requirements: () => [{ file: '/proc/net/tcp' }, { file: '/proc/net/snmp' }, { file: '/proc/net/netstat' }],

    async run(ctx) {
      const trace = startRetransmitTrace(ctx);
      const intervalSeconds = Math.max(ctx.params.intervalSeconds, Math.ceil(ctx.durationSeconds / maxReadings));
      const readings = await sampleOverWindow(ctx, intervalSeconds, () => readNetFiles(procNet));
      const retransmitTrace = await trace.stop();
      const last = readings.at(-1)!.data;
      const littleEndian = endianness() === 'LE';
      const stuck = [...parseProcNetTcp(last.tcp, littleEndian), ...parseProcNetTcp(last.tcp6 ?? '', littleEndian)].filter((s) => unreadBytes(s) > 0);
      const raw: TcpRaw = {
        intervalSeconds,
        littleEndian,
        readings,
        owners: await socketOwners(new Set(stuck.map((s) => s.inode)), { workloads: ctx.workloads }),
        retransmitTrace,
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
