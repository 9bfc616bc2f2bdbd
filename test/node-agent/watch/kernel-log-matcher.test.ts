import { describe, expect, it } from 'vitest';
import { parseKmsg } from '../../../node-agent/engine/kmsg-record.js';
import { loadRulesFile, shippedRulesFile } from '../../../node-agent/patterns/kernel-log/rules.js';
import { KernelLogMatcher } from '../../../node-agent/watch/kernel-log-matcher.js';

const rules = loadRulesFile(shippedRulesFile);
const records = (...lines: string[]) => parseKmsg(lines.join('\n'));

describe('KernelLogMatcher', () => {
  it('matches a record as soon as it arrives', () => {
    const matcher = new KernelLogMatcher(rules);
    const [match] = matcher.feed(records('3,10,5263554312,-;Memory cgroup out of memory: Killed process 9562 (ksleuth-leaker) total-vm:1083152kB'), 0);
    expect(match).toMatchObject({ rule: { id: 'oom-kill-cgroup' }, count: 1, groups: { task: { 'ksleuth-leaker': 1 } } });
  });

  it('waits for the call trace of a hung task that arrives in a later batch', () => {
    const matcher = new KernelLogMatcher(rules, 5000);
    const first = matcher.feed(
      records('3,20,100,-;INFO: task postgres:4242 blocked for more than 122 seconds.', '6,21,101,-;task:postgres        state:D stack:0     pid:4242'),
      0,
    );
    expect(first.map((m) => m.rule.id)).toEqual(['hung-task']);
    const second = matcher.feed(
      records('6,22,102,-;Call Trace:', '6,23,103,-; <TASK>', '6,24,104,-; jbd2_log_wait_commit+0xd8/0x140 [jbd2]', '6,25,105,-; </TASK>'),
      1000,
    );
    expect(second.map((m) => m.rule.id)).toEqual(['blocked-in-jbd2']);
    expect(second[0]!.examples[0]!.frame).toBe('jbd2_log_wait_commit+0xd8/0x140 [jbd2]');
    // Settled: the same records do not match again.
    expect(matcher.feed([], 2000)).toEqual([]);
  });

  it('gives up on a trace that ends without the frame, or never comes', () => {
    const matcher = new KernelLogMatcher(rules, 5000);
    matcher.feed(records('3,30,100,-;INFO: task cp:5151 blocked for more than 120 seconds.'), 0);
    expect(
      matcher.feed(
        records('6,31,101,-; rpc_wait_bit_killable+0x11/0x70 [sunrpc]', '6,32,102,-; </TASK>', '6,33,103,-; jbd2_log_wait_commit+0xd8/0x140 [jbd2]'),
        100,
      ),
    ).toEqual([]);
    const late = new KernelLogMatcher(rules, 5000);
    late.feed(records('3,40,100,-;INFO: task cp:5151 blocked for more than 120 seconds.'), 0);
    late.feed([], 6000);
    expect(late.feed(records('6,41,101,-; jbd2_log_wait_commit+0xd8/0x140 [jbd2]'), 6100)).toEqual([]);
  });

  it('ignores look-alikes that user space wrote into /dev/kmsg', () => {
    const matcher = new KernelLogMatcher(rules);
    expect(matcher.feed(records('12,50,100,-;Out of memory: Killed process 1 (init)'), 0)).toEqual([]);
  });
});
