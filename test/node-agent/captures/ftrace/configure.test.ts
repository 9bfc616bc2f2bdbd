import { describe, expect, it } from 'vitest';
import { expandEvents } from '../../../../node-agent/captures/ftrace/configure.js';

const available = new Set(['block:block_rq_issue', 'block:block_rq_complete', 'jbd2:jbd2_start_commit', 'jbd2:jbd2_end_commit', 'kmem:kmalloc']);

describe('expandEvents', () => {
  it('resolves globs against the node’s tracepoints, without duplicates', () => {
    expect(expandEvents(['jbd2:*', 'block:block_rq_issue', 'jbd2:jbd2_end_commit'], available)).toEqual([
      'jbd2:jbd2_end_commit',
      'jbd2:jbd2_start_commit',
      'block:block_rq_issue',
    ]);
    expect(expandEvents(['block:block_rq_*'], available)).toEqual(['block:block_rq_complete', 'block:block_rq_issue']);
  });

  it('names the entry that matches nothing', () => {
    expect(() => expandEvents(['kmem:kmalloc', 'nosuch:*'], available)).toThrow(/^events\[1\] "nosuch:\*" matches no tracepoint on this node/);
    expect(() => expandEvents(['kmem:kmalloc_node'], available)).toThrow(expect.objectContaining({ reason: 'EventNotFound' }));
  });
});
