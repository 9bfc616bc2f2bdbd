import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { finding } from '../../../../api/v1alpha1/finding.js';
import { analyzeFtrace } from '../../../../node-agent/captures/ftrace/analyze.js';
import { parseEventsTrace } from '../../../../node-agent/captures/ftrace/parse-events.js';
import { parseGraphTrace } from '../../../../node-agent/captures/ftrace/parse-graph.js';

const trace = readFileSync(new URL('../../../fixtures/ftrace/events-block-jbd2.trace.txt', import.meta.url), 'utf8');

/** Derived from the recording: the end of one jbd2 commit (and its flushing) moved `seconds` later. */
function delayCommit(text: string, transaction: number, seconds: number, event: 'jbd2_end_commit' | 'jbd2_commit_flushing'): string {
  return text.replace(
    new RegExp(`(\\d+\\.\\d+)(: ${event}: dev 7,0 transaction ${transaction} )`),
    (_, ts: string, rest: string) => `${(Number(ts) + seconds).toFixed(6)}${rest}`,
  );
}

describe('analyzeFtrace', () => {
  it('summarises the recorded events trace and finds nothing in it', () => {
    const { summary, findings } = analyzeFtrace(parseEventsTrace(trace, 8, [], false));
    expect(findings).toEqual([]);
    expect(summary).toMatchObject({ mode: 'events', droppedEvents: 0, 'task.1': 'jbd2/loop0-8-9624: 72' });
    expect(summary['event.block_rq_complete']).toBe(254);
    expect(summary['latency.jbd2-commit.7:0']).toMatch(/^12 matched, avg \d+ us, p99 \d+ us, max \d+ us, 0 unmatched$/);
  });

  it('says which pair latencies a list of events cannot measure (one end traced only)', () => {
    const asked = ['jbd2:jbd2_commit_flushing', 'jbd2:jbd2_end_commit', 'block:*'];
    const { summary } = analyzeFtrace(parseEventsTrace(trace, 8, [], false), asked);
    expect(summary.unpairedEvents).toBe(
      'jbd2:jbd2_end_commit without jbd2:jbd2_start_commit: no jbd2-commit latency (add jbd2:jbd2_start_commit); ' +
        'jbd2:jbd2_commit_flushing without jbd2:jbd2_commit_locking: no jbd2-locked latency (add jbd2:jbd2_commit_locking)',
    );
    expect(
      analyzeFtrace(parseEventsTrace(trace, 8, [], false), ['jbd2:*', 'block:block_rq_issue', 'block:block_rq_complete']).summary.unpairedEvents,
    ).toBeUndefined();
  });

  it('reports a jbd2 commit of over a second as a write stall (derived input)', () => {
    const { findings } = analyzeFtrace(parseEventsTrace(delayCommit(trace, 5, 1.5, 'jbd2_end_commit'), 8, [], false));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      pattern: 'write-stall',
      severity: 'warning',
      title: expect.stringMatching(/^Journal on 7:0: commits took up to 150\d ms$/),
    });
    expect(findings[0]!.suggestedMitigation?.sysctls.map((s) => s.name)).toEqual(['vm.dirty_background_ratio', 'vm.dirty_ratio']);
    expect(() => finding.parse(findings[0])).not.toThrow();
  });

  it('reports a long locked phase as a critical write stall (derived input)', () => {
    const { findings } = analyzeFtrace(parseEventsTrace(delayCommit(trace, 6, 1.2, 'jbd2_commit_flushing'), 8, [], false));
    expect(findings.map((f) => [f.pattern, f.severity])).toContainEqual(['write-stall', 'critical']);
  });

  it('reports block requests slower than the io-latency default threshold (derived input)', () => {
    const slow = trace.replace('4626.899018: block_rq_complete: 7,0 WS () 40962', '4627.399018: block_rq_complete: 7,0 WS () 40962');
    const { findings } = analyzeFtrace(parseEventsTrace(slow, 8, [], false));
    expect(findings).toEqual([
      expect.objectContaining({ pattern: 'io-latency', severity: 'warning', title: expect.stringMatching(/^Block requests on 7:0 took up to 500 ms/) }),
    ]);
  });

  it('summarises function_graph results per function', () => {
    const graph = readFileSync(new URL('../../../fixtures/ftrace/function-graph.trace.txt', import.meta.url), 'utf8');
    const { summary, findings } = analyzeFtrace(parseGraphTrace(graph, 8, 10, [], false));
    expect(findings).toEqual([]);
    expect(summary['function.ext4_sync_file']).toBe('3 calls, total 1399783.53 us, avg 466594.51 us, max 1204330 us');
    expect(summary.mode).toBe('function_graph');
  });
});
