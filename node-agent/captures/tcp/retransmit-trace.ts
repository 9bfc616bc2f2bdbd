import type { CaptureContext } from '../../engine/capture.js';
import { describeFailure, startProcess, type ProcessResult } from '../../engine/process.js';
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

/**
 * Why bpftrace printed no attached probes. Interrupted before it attached (it can take seconds to
 * start on a busy node), it dies of the SIGINT it would otherwise handle: the window was too short.
 */
function notAttachedReason(result: ProcessResult, windowSeconds: number): string {
  if (result.signal === 'SIGINT') {
    return `bpftrace had not attached to ${tracepoint} when the window ended after ${windowSeconds.toFixed(1)} s; a longer duration gives it time to start`;
  }
  return describeFailure(result);
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
  const startedAt = Date.now();
  return {
    async stop() {
      const stoppedAt = Date.now();
      const result = await bpftrace.stop('SIGINT', 10_000);
      if (!result.stdout.includes('"attached_probes"')) return { state: 'failed', reason: notAttachedReason(result, (stoppedAt - startedAt) / 1000) };
      return { state: 'traced', output: result.stdout };
    },
  };
}
