import type { CaptureContext } from '../../engine/capture.js';
import { describeFailure, startProcess } from '../../engine/process.js';
import type { RetransmitTrace } from './parse.js';
import { retransmitProgram } from './retransmit-program.js';

export interface RunningTrace {
  /** Stops bpftrace (it prints its map on SIGINT) and returns what it saw, or why not. */
  stop(): Promise<RetransmitTrace>;
}

const tracepoint = 'tcp:tcp_retransmit_skb';

/** Why the node cannot trace retransmits, or undefined when it can. */
export function retransmitTraceUnavailable(facts: CaptureContext['facts']): string | undefined {
  if (!facts.capabilities.bpftraceVersion) return 'bpftrace is not installed (Debian/Ubuntu: apt-get install bpftrace)';
  if (!facts.capabilities.root) return 'loading a BPF program needs root (CAP_BPF and CAP_PERFMON)';
  if (!facts.events.has(tracepoint)) return `this kernel has no ${tracepoint} tracepoint`;
  return undefined;
}

/** Starts counting retransmits by remote address in a kernel map, if the node can. */
export function startRetransmitTrace(ctx: CaptureContext<'tcp'>): RunningTrace {
  const unavailable = retransmitTraceUnavailable(ctx.facts);
  if (unavailable) {
    ctx.log.info({ reason: unavailable }, 'Not tracing TCP retransmits by remote address');
    return { stop: async () => ({ state: 'unavailable', reason: unavailable }) };
  }
  const bpftrace = startProcess('bpftrace', ['-f', 'json', '-e', retransmitProgram], {
    signal: ctx.signal,
    journal: ctx.journal,
    timeoutMs: (ctx.durationSeconds + 60) * 1000,
    maxOutputBytes: 4 * 1024 * 1024,
  });
  return {
    async stop() {
      const result = await bpftrace.stop('SIGINT', 10_000);
      if (!result.stdout.includes('"attached_probes"')) return { state: 'failed', reason: describeFailure(result) };
      return { state: 'traced', output: result.stdout };
    },
  };
}
