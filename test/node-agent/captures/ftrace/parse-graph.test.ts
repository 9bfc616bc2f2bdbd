import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseGraphTrace } from '../../../../node-agent/captures/ftrace/parse-graph.js';

// Written in the documented function_graph format: see test/fixtures/ftrace/README.md.
const fixture = (name: string): string => readFileSync(new URL(`../../../fixtures/ftrace/${name}`, import.meta.url), 'utf8');

describe('parseGraphTrace with the default columns', () => {
  const parsed = parseGraphTrace(fixture('function-graph.trace.txt'), 8, 10, [], false);
  const fn = (name: string) => parsed.functions.find((f) => f.name === name);

  it('times each function over all its calls, from leaves and from exits, with every overhead mark', () => {
    expect(fn('ext4_sync_file')).toEqual({ name: 'ext4_sync_file', calls: 3, timedCalls: 3, totalUs: 1399783.53, averageUs: 466594.51, maxUs: 1204330 });
    expect(fn('vfs_fsync_range')).toMatchObject({ calls: 3, timedCalls: 3, maxUs: 1204332 });
    expect(parsed.functions[0]!.name).toBe('vfs_fsync_range');
  });

  it('counts an entry still open at the end as a call without a duration', () => {
    // Five calls of vfs_write: one whose entry predates the trace, three complete, one still running.
    expect(fn('vfs_write')).toEqual({ name: 'vfs_write', calls: 5, timedCalls: 4, totalUs: 2297.955, averageUs: 574.489, maxUs: 2016.902 });
    expect(fn('ext4_file_write_iter')).toMatchObject({ calls: 4, timedCalls: 3, totalUs: 2273.217, maxUs: 2015.4 });
  });

  it('names exits from the entry on the same task and depth, or from the comment after the brace', () => {
    expect(fn('rw_verify_area')).toMatchObject({ calls: 2, timedCalls: 2, totalUs: 1.2 });
    expect(fn('generic_perform_write')).toMatchObject({ calls: 2, timedCalls: 2, totalUs: 21.11 });
    expect(fn('ext4_da_write_end')).toMatchObject({ calls: 2, timedCalls: 2, totalUs: 1.836 });
    expect(fn('__sysvec_apic_timer_interrupt')).toMatchObject({ calls: 1, totalUs: 4.02 });
  });

  it('ignores interrupt markers, trace_printk comments and context-switch banners', () => {
    expect(parsed.functions.map((f) => f.name).filter((n) => /[=<>/*-]{3}|mark|kworker/.test(n))).toEqual([]);
  });

  it('leaves out calls deeper than maxDepth, keeping the shallower ones', () => {
    const shallow = parseGraphTrace(fixture('function-graph.trace.txt'), 3, 10, [], false);
    const names = shallow.functions.map((f) => f.name);
    expect(names).not.toContain('ext4_da_write_begin');
    expect(names).not.toContain('ext4_nonda_switch');
    expect(names).not.toContain('hrtimer_interrupt');
    // The generic_perform_write exit at depth 1 stays; the call at depth 3 goes.
    expect(shallow.functions.find((f) => f.name === 'generic_perform_write')).toMatchObject({ calls: 1, totalUs: 14.87 });
    expect(shallow.deeperCalls).toBe(5);
    expect(
      parseGraphTrace(fixture('function-graph.trace.txt'), 1, 10, [], false)
        .functions.map((f) => f.name)
        .sort(),
    ).toEqual(['vfs_fsync_range', 'vfs_write']);
  });
});

describe('parseGraphTrace with the abstime and proc columns', () => {
  it('reads the task column and matches exits without names to their entries', () => {
    const parsed = parseGraphTrace(fixture('function-graph-proc-abstime.trace.txt'), 8, 1, [], false);
    expect(parsed.functions).toEqual([
      { name: 'vfs_write', calls: 2, timedCalls: 2, totalUs: 13, averageUs: 6.5, maxUs: 9.1 },
      { name: 'ext4_file_write_iter', calls: 1, timedCalls: 1, totalUs: 6.8, averageUs: 6.8, maxUs: 6.8 },
      { name: 'rw_verify_area', calls: 2, timedCalls: 2, totalUs: 0.912, averageUs: 0.456, maxUs: 0.512 },
    ]);
  });
});
