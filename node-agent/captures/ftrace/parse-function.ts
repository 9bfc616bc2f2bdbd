import { parseTraceRecord, traceRates } from './trace-line.js';

export interface FunctionParsed {
  mode: 'function';
  windowSeconds: number;
  /**
   * The seconds rates are computed over: the window, or the span the trace covers when events
   * were dropped (the buffer filled before the window ended).
   */
  rateSeconds: number;
  totalCalls: number;
  /** Most called first. */
  functions: { name: string; calls: number; perSecond: number; topCaller?: string }[];
  droppedEvents: number;
  overrunEvents: number;
  truncated: boolean;
}

// "vfs_write <-ksys_write": the traced function and its caller.
const functionBody = /^([^\s<]+)\s+<-(\S+)/;

/** Per-function call counts from a `function` tracer trace. */
export function parseFunctionTrace(trace: string, windowSeconds: number, cpuStats: string[], truncated: boolean): FunctionParsed {
  const calls = new Map<string, { calls: number; callers: Map<string, number> }>();
  let total = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const line of trace.split('\n')) {
    const record = parseTraceRecord(line);
    if (record) {
      first = Math.min(first, record.timestamp);
      last = Math.max(last, record.timestamp);
    }
    const match = record && functionBody.exec(record.body);
    if (!match) continue;
    total++;
    const entry = calls.get(match[1]!) ?? { calls: 0, callers: new Map<string, number>() };
    entry.calls++;
    entry.callers.set(match[2]!, (entry.callers.get(match[2]!) ?? 0) + 1);
    calls.set(match[1]!, entry);
  }
  const { rateSeconds, perSecond, dropped, overrun } = traceRates(cpuStats, windowSeconds, first, last);
  return {
    mode: 'function',
    windowSeconds,
    rateSeconds,
    totalCalls: total,
    functions: [...calls]
      .map(([name, entry]) => ({
        name,
        calls: entry.calls,
        perSecond: perSecond(entry.calls),
        topCaller: [...entry.callers].sort((a, b) => b[1] - a[1])[0]?.[0],
      }))
      .sort((a, b) => b.calls - a.calls || a.name.localeCompare(b.name)),
    droppedEvents: dropped,
    overrunEvents: overrun,
    truncated,
  };
}
