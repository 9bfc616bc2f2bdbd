import type { CaptureModule } from '../../engine/capture.js';
import { monotonicNs, runBpftrace } from '../../engine/bpftrace.js';
import { analyzeIoLatency } from './analyze.js';
import { blockDeviceNames } from './devices.js';
import { parseIoLatency, type IoLatencyParsed, type IoLatencyRaw } from './parse.js';
import { blockTracepoints, ioLatencyMapKeys, ioLatencyProgram, journalTracepoints } from './program.js';

export const ioLatencyCapture: CaptureModule<'io-latency', IoLatencyRaw, IoLatencyParsed> = {
  kind: 'io-latency',
  title: 'Block I/O and journal latency',
  // jbd2 is optional: a node without ext4 still has block latency.
  requirements: () => [{ root: true }, { tool: 'bpftrace' }, ...blockTracepoints.map((tracepoint) => ({ tracepoint }))],
  async run(ctx) {
    const withJournal = journalTracepoints.every((tracepoint) => ctx.facts.events.has(tracepoint));
    if (!withJournal) ctx.log.info('jbd2 tracepoints are missing: measuring block I/O only');
    const result = await runBpftrace(ctx, {
      program: ioLatencyProgram(withJournal),
      args: [String(monotonicNs(ctx.windowEnd)), String(ctx.params.outlierThresholdMs * 1000)],
      mapKeysMax: ioLatencyMapKeys,
      maxOutputBytes: 4 * 1024 * 1024,
      artifactName: 'bpftrace.json',
    });
    return { output: result.output, deviceNames: await blockDeviceNames() };
  },
  parse: (raw) => parseIoLatency(raw),
  analyze: (parsed, params) => analyzeIoLatency(parsed, params),
};
