/** One record of a tracefs `trace` file in the default (nop, function) format. */
export interface TraceRecord {
  /** The task's comm, "<...>" when the kernel no longer knew it. */
  task: string;
  pid: number;
  cpu: number;
  /** Seconds, on the instance's trace clock. */
  timestamp: number;
  /** Everything after the timestamp: "block_rq_issue: 254,0 WS ..." or "vfs_write <-ksys_write". */
  body: string;
}

// "  dd-3916    [000] .....  3343.906447: block_rq_issue: 254,0 WS ..." — the latency flags column
// (4 or 5 characters) and the "(tgid)" column appear only with some options. A comm may hold
// spaces and dashes, so the task is everything up to the last "-pid" before the CPU column.
const recordLine = /^\s*(.+)-(\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(\d+)\]\s+(?:\S{4,5}\s+)?(\d+\.\d+):\s+(.*)$/;

/** Parses a record line; undefined for comments ("#"), markers and anything else. */
export function parseTraceRecord(line: string): TraceRecord | undefined {
  if (line.startsWith('#')) return undefined;
  const match = recordLine.exec(line);
  if (!match) return undefined;
  return { task: match[1]!.trim(), pid: Number(match[2]), cpu: Number(match[3]), timestamp: Number(match[4]), body: match[5]! };
}

/** An event record's body: "block_rq_issue: 254,0 WS 65536 () 1 + 8 be,0,4 [dd]". */
export function splitEventBody(body: string): { event: string; fields: string } | undefined {
  const match = /^([A-Za-z0-9_]+):\s?(.*)$/.exec(body);
  return match ? { event: match[1]!, fields: match[2]! } : undefined;
}

/** Sum of "dropped events" and "overrun" over per_cpu/cpuN/stats files. */
export function parseBufferStats(stats: string[]): { dropped: number; overrun: number; entries: number } {
  const total = { dropped: 0, overrun: 0, entries: 0 };
  for (const text of stats) {
    total.dropped += Number(/^dropped events:\s*(\d+)/m.exec(text)?.[1] ?? 0);
    total.overrun += Number(/^overrun:\s*(\d+)/m.exec(text)?.[1] ?? 0);
    total.entries += Number(/^entries:\s*(\d+)/m.exec(text)?.[1] ?? 0);
  }
  return total;
}

/**
 * The ring buffer's losses and the seconds rates are computed over: the window, or the span the
 * trace covers (`first` to `last` record) when events were dropped because the buffer filled
 * before the window ended.
 */
export function traceRates(
  cpuStats: string[],
  windowSeconds: number,
  first: number,
  last: number,
): { rateSeconds: number; perSecond: (count: number) => number; dropped: number; overrun: number } {
  const { dropped, overrun } = parseBufferStats(cpuStats);
  const rateSeconds = dropped > 0 && last > first ? last - first : windowSeconds;
  return {
    rateSeconds: Math.round(rateSeconds * 1000) / 1000,
    perSecond: (count) => (rateSeconds > 0 ? Math.round((count / rateSeconds) * 10) / 10 : 0),
    dropped,
    overrun,
  };
}
