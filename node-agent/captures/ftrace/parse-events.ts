import { eventPairs, type EventPair } from './event-pairs.js';
import { parseTraceRecord, splitEventBody, traceRates } from './trace-line.js';

export interface PairLatency {
  pair: string;
  /** The device ("major:minor"). */
  group: string;
  count: number;
  averageUs: number;
  p99Us: number;
  maxUs: number;
  /** Starts whose end was not in the trace (still running, dropped, or a later start took its key). */
  unmatched: number;
}

export interface EventsParsed {
  mode: 'events';
  windowSeconds: number;
  /**
   * The seconds rates are computed over: the window, or the span the trace covers when events
   * were dropped (the buffer filled before the window ended).
   */
  rateSeconds: number;
  totalEvents: number;
  /** Most frequent first. */
  events: { event: string; count: number; perSecond: number }[];
  topTasks: { task: string; pid: number; count: number }[];
  latencies: PairLatency[];
  /** Events the ring buffer had no room for (raise bufferSizeKb) and events overwritten. */
  droppedEvents: number;
  overrunEvents: number;
  /** The trace was longer than the agent reads. */
  truncated: boolean;
}

export const maxTopTasks = 10;

function percentile(sorted: number[], fraction: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * fraction) - 1)]! : 0;
}

interface OpenStart {
  timestamp: number;
  group: string;
}

/** Per-event counts and rates, top tasks, and latencies of known event pairs, from an events-mode trace. */
export function parseEventsTrace(trace: string, windowSeconds: number, cpuStats: string[], truncated: boolean): EventsParsed {
  const counts = new Map<string, number>();
  const tasks = new Map<string, { task: string; pid: number; count: number }>();
  const pairsByEvent = new Map<string, { pair: EventPair; role: 'start' | 'end' }[]>();
  for (const pair of eventPairs) {
    pairsByEvent.set(pair.start, [...(pairsByEvent.get(pair.start) ?? []), { pair, role: 'start' }]);
    pairsByEvent.set(pair.end, [...(pairsByEvent.get(pair.end) ?? []), { pair, role: 'end' }]);
  }
  const open = new Map<string, Map<string, OpenStart>>(eventPairs.map((p) => [p.name, new Map()]));
  const durations = new Map<string, number[]>();
  const unmatched = new Map<string, number>();
  const countUnmatched = (id: string): void => {
    unmatched.set(id, (unmatched.get(id) ?? 0) + 1);
  };

  let total = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const line of trace.split('\n')) {
    const record = parseTraceRecord(line);
    if (record) {
      first = Math.min(first, record.timestamp);
      last = Math.max(last, record.timestamp);
    }
    const event = record && splitEventBody(record.body);
    if (!record || !event) continue;
    total++;
    counts.set(event.event, (counts.get(event.event) ?? 0) + 1);
    const taskKey = `${record.task}-${record.pid}`;
    const task = tasks.get(taskKey) ?? { task: record.task, pid: record.pid, count: 0 };
    task.count++;
    tasks.set(taskKey, task);
    for (const { pair, role } of pairsByEvent.get(event.event) ?? []) {
      const key = pair.key(event.fields);
      if (!key) continue;
      const starts = open.get(pair.name)!;
      if (role === 'start') {
        // A second start under the same key (a flush at sector 0, a re-issued sector) leaves the first unmatched.
        const superseded = starts.get(key.key);
        if (superseded) countUnmatched(`${pair.name}\u0000${superseded.group}`);
        starts.set(key.key, { timestamp: record.timestamp, group: key.group });
        continue;
      }
      const start = starts.get(key.key);
      if (!start) continue;
      starts.delete(key.key);
      const id = `${pair.name}\u0000${start.group}`;
      const list = durations.get(id) ?? [];
      list.push(Math.max(0, Math.round((record.timestamp - start.timestamp) * 1e6)));
      durations.set(id, list);
    }
  }

  for (const [pair, starts] of open) for (const start of starts.values()) countUnmatched(`${pair}\u0000${start.group}`);
  const latencies = [...new Set([...durations.keys(), ...unmatched.keys()])].sort().map((id) => {
    const [pair, group] = id.split('\u0000') as [string, string];
    const sorted = (durations.get(id) ?? []).sort((a, b) => a - b);
    return {
      pair,
      group,
      count: sorted.length,
      averageUs: sorted.length ? Math.round(sorted.reduce((s, v) => s + v, 0) / sorted.length) : 0,
      p99Us: percentile(sorted, 0.99),
      maxUs: sorted[sorted.length - 1] ?? 0,
      unmatched: unmatched.get(id) ?? 0,
    };
  });

  const { rateSeconds, perSecond, dropped, overrun } = traceRates(cpuStats, windowSeconds, first, last);
  return {
    mode: 'events',
    windowSeconds,
    rateSeconds,
    totalEvents: total,
    events: [...counts]
      .map(([event, count]) => ({ event, count, perSecond: perSecond(count) }))
      .sort((a, b) => b.count - a.count || a.event.localeCompare(b.event)),
    topTasks: [...tasks.values()].sort((a, b) => b.count - a.count).slice(0, maxTopTasks),
    latencies,
    droppedEvents: dropped,
    overrunEvents: overrun,
    truncated,
  };
}
