import { describe, expect, it } from 'vitest';
import { parseBufferStats, parseTraceRecord, splitEventBody } from '../../../../node-agent/captures/ftrace/trace-line.js';

describe('parseTraceRecord', () => {
  it('reads a recorded event line of this kernel (five flag characters)', () => {
    const record = parseTraceRecord('              dd-9807    [001] .....  4626.898573: block_rq_issue: 7,0 WS 1310720 () 40962 + 2560 be,0,4 [dd]');
    expect(record).toEqual({ task: 'dd', pid: 9807, cpu: 1, timestamp: 4626.898573, body: 'block_rq_issue: 7,0 WS 1310720 () 40962 + 2560 be,0,4 [dd]' });
    expect(splitEventBody(record!.body)).toEqual({ event: 'block_rq_issue', fields: '7,0 WS 1310720 () 40962 + 2560 be,0,4 [dd]' });
  });

  it('keeps comms with dashes, slashes and spaces whole', () => {
    expect(parseTraceRecord('    jbd2/loop0-8-9624    [000] .N...  4626.900445: jbd2_start_commit: dev 7,0 transaction 5 sync 0')).toMatchObject({
      task: 'jbd2/loop0-8',
      pid: 9624,
    });
    expect(parseTraceRecord('  npm exec vitest-31334 [001] .....  10.000001: sched_switch: x')).toMatchObject({ task: 'npm exec vitest', pid: 31334 });
    expect(parseTraceRecord('           <...>-1729  [001] d...   678.473449: #1     inner/outer(us):   11/12')).toMatchObject({
      task: '<...>',
      pid: 1729,
      cpu: 1,
    });
  });

  it('reads lines without the flags column and with the tgid column', () => {
    expect(parseTraceRecord('      yum-updatesd-3111  [003]  1637.254676: finish_task_switch <-thread_return')).toMatchObject({
      task: 'yum-updatesd',
      cpu: 3,
      body: 'finish_task_switch <-thread_return',
    });
    expect(parseTraceRecord('            bash-1977  (   1977) [000] .... 17284.993652: sys_close <-system_call_fastpath')).toMatchObject({
      pid: 1977,
      timestamp: 17284.993652,
    });
  });

  it('skips comments and markers', () => {
    expect(parseTraceRecord('# tracer: nop')).toBeUndefined();
    expect(parseTraceRecord('##### CPU 1 buffer started ####')).toBeUndefined();
    expect(parseTraceRecord('')).toBeUndefined();
  });
});

describe('parseBufferStats', () => {
  it('adds dropped events, overruns and entries over CPUs', () => {
    const cpu = (entries: number, dropped: number) =>
      `entries: ${entries}\noverrun: 2\ncommit overrun: 0\nbytes: 69360\ndropped events: ${dropped}\nread events: 0\n`;
    expect(parseBufferStats([cpu(10, 5), cpu(7, 0)])).toEqual({ dropped: 5, overrun: 4, entries: 17 });
    expect(parseBufferStats([])).toEqual({ dropped: 0, overrun: 0, entries: 0 });
  });
});
