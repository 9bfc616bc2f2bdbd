import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseEventsTrace } from '../../../../node-agent/captures/ftrace/parse-events.js';

function recorded(name: string) {
  const trace = readFileSync(new URL(`../../../fixtures/ftrace/${name}.trace.txt`, import.meta.url), 'utf8');
  const { windowSeconds, cpuStats } = JSON.parse(readFileSync(new URL(`../../../fixtures/ftrace/${name}.cpu-stats.json`, import.meta.url), 'utf8')) as {
    windowSeconds: number;
    cpuStats: string[];
  };
  return { trace, windowSeconds, cpuStats };
}

const count = (trace: string, event: string): number => trace.split('\n').filter((l) => l.includes(` ${event}: `)).length;

/** Commit durations straight from the text: start and end lines of one transaction. */
function commitDurationsUs(trace: string): number[] {
  const starts = new Map<string, number>();
  const durations: number[] = [];
  for (const m of trace.matchAll(/ (\d+\.\d+): jbd2_(start|end)_commit: dev (\S+) transaction (\d+)/g)) {
    const key = `${m[3]}/${m[4]}`;
    if (m[2] === 'start') starts.set(key, Number(m[1]));
    else if (starts.has(key)) durations.push(Math.round((Number(m[1]) - starts.get(key)!) * 1e6));
  }
  return durations.sort((a, b) => a - b);
}

describe('parseEventsTrace on a recorded block + jbd2 trace', () => {
  const { trace, windowSeconds, cpuStats } = recorded('events-block-jbd2');
  const parsed = parseEventsTrace(trace, windowSeconds, cpuStats, false);

  it('counts every event and its rate over the window', () => {
    for (const event of ['block_rq_issue', 'block_rq_complete', 'jbd2_start_commit', 'jbd2_run_stats']) {
      const e = parsed.events.find((x) => x.event === event)!;
      expect(e.count).toBe(count(trace, event));
      expect(e.perSecond).toBeCloseTo(e.count / windowSeconds, 1);
    }
    expect(parsed.totalEvents).toBe(parsed.events.reduce((s, e) => s + e.count, 0));
    expect(parsed.events.map((e) => e.count)).toEqual([...parsed.events.map((e) => e.count)].sort((a, b) => b - a));
    expect(parsed.droppedEvents).toBe(0);
    expect(parsed.rateSeconds).toBe(windowSeconds);
  });

  it('names the busiest tasks', () => {
    expect(parsed.topTasks[0]).toMatchObject({ task: 'jbd2/loop0-8', pid: 9624 });
    expect(parsed.topTasks[0]!.count).toBe(trace.split('\n').filter((l) => l.includes('jbd2/loop0-8-9624 ')).length);
  });

  it('times jbd2 commits from start to end by device and transaction', () => {
    const expected = commitDurationsUs(trace);
    const commits = parsed.latencies.find((l) => l.pair === 'jbd2-commit' && l.group === '7:0')!;
    expect(commits).toMatchObject({ count: expected.length, maxUs: expected[expected.length - 1], unmatched: 0 });
    expect(commits.averageUs).toBe(Math.round(expected.reduce((s, v) => s + v, 0) / expected.length));
    expect(parsed.latencies.find((l) => l.pair === 'jbd2-locked' && l.group === '7:0')!.count).toBe(expected.length);
  });

  it('times block requests from issue to completion by device and sector', () => {
    const loop = parsed.latencies.find((l) => l.pair === 'block-request' && l.group === '7:0')!;
    const vda = parsed.latencies.find((l) => l.pair === 'block-request' && l.group === '254:0')!;
    expect(loop.count).toBeGreaterThan(0);
    expect(vda.count).toBeGreaterThan(0);
    expect(loop.count + vda.count + loop.unmatched + vda.unmatched).toBe(count(trace, 'block_rq_issue'));
    // The first loop request in the trace: issued at 4626.898573, completed at 4626.899018.
    expect(loop.maxUs).toBeGreaterThanOrEqual(445);
    expect(loop.p99Us).toBeLessThanOrEqual(loop.maxUs);
  });
});

describe('parseEventsTrace on a recorded trace whose buffer filled', () => {
  const { trace, windowSeconds, cpuStats } = recorded('events-small-buffer');
  const parsed = parseEventsTrace(trace, windowSeconds, cpuStats, false);

  it('reports the events the kernel dropped and computes rates over the span the trace covers', () => {
    expect(parsed.droppedEvents).toBe(7973 + 3653);
    expect(parsed.rateSeconds).toBeGreaterThan(0);
    expect(parsed.rateSeconds).toBeLessThan(windowSeconds / 2);
    const kmalloc = parsed.events.find((e) => e.event === 'kmalloc')!;
    expect(kmalloc.count).toBe(count(trace, 'kmalloc'));
    expect(kmalloc.perSecond).toBeCloseTo(kmalloc.count / parsed.rateSeconds, 0);
    expect(parsed.latencies).toEqual([]);
  });
});

describe('parseEventsTrace on edge cases', () => {
  it('counts a start without an end as unmatched and an end without a start as nothing', () => {
    const trace = [
      '  jbd2/sda1-8-1   [000] .....  10.000000: jbd2_start_commit: dev 8,1 transaction 7 sync 0',
      '  jbd2/sda1-8-1   [000] .....  10.500000: jbd2_end_commit: dev 8,1 transaction 6 sync 0 head 5',
    ].join('\n');
    const parsed = parseEventsTrace(trace, 1, [], false);
    expect(parsed.latencies).toEqual([{ pair: 'jbd2-commit', group: '8:1', count: 0, averageUs: 0, p99Us: 0, maxUs: 0, unmatched: 1 }]);
  });

  it('returns zeros for an empty trace', () => {
    expect(parseEventsTrace('# tracer: nop\n', 5, [], false)).toMatchObject({ totalEvents: 0, events: [], topTasks: [], latencies: [] });
  });
});
