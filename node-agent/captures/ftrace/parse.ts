import type { CaptureParams } from '../../../api/v1alpha1/captures.js';
import { parseEventsTrace, type EventsParsed } from './parse-events.js';
import { parseFunctionTrace, type FunctionParsed } from './parse-function.js';
import { parseGraphTrace, type GraphParsed } from './parse-graph.js';

/** What run() returns: the instance's trace and buffer statistics. */
export interface FtraceRaw {
  mode: CaptureParams<'ftrace'>['mode'];
  trace: string;
  /** The trace was longer than the agent reads. */
  truncated: boolean;
  /** How long tracing was on. */
  windowSeconds: number;
  /** per_cpu/cpuN/stats of the instance. */
  cpuStats: string[];
}

export type FtraceParsed = EventsParsed | FunctionParsed | GraphParsed;

export function parseFtrace(raw: FtraceRaw, params: CaptureParams<'ftrace'>): FtraceParsed {
  if (raw.mode === 'function') return parseFunctionTrace(raw.trace, raw.windowSeconds, raw.cpuStats, raw.truncated);
  if (raw.mode === 'function_graph') return parseGraphTrace(raw.trace, params.maxDepth, raw.windowSeconds, raw.cpuStats, raw.truncated);
  return parseEventsTrace(raw.trace, raw.windowSeconds, raw.cpuStats, raw.truncated);
}
