import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseFunctionTrace } from '../../../../node-agent/captures/ftrace/parse-function.js';

// Written in the documented format of the function tracer: see test/fixtures/ftrace/README.md.
const trace = readFileSync(new URL('../../../fixtures/ftrace/function.trace.txt', import.meta.url), 'utf8');

describe('parseFunctionTrace', () => {
  const parsed = parseFunctionTrace(trace, 2, [], false);

  it('counts calls per function, most called first, with the usual caller', () => {
    expect(parsed.totalCalls).toBe(14);
    expect(parsed.functions.map((f) => [f.name, f.calls, f.topCaller])).toEqual([
      ['ext4_buffered_write_iter', 4, 'ext4_file_write_iter'],
      ['ext4_file_write_iter', 4, 'vfs_write'],
      ['vfs_write', 4, 'ksys_write'],
      ['ext4_writepages', 2, 'do_writepages'],
    ]);
    expect(parsed.functions[0]!.perSecond).toBe(2);
  });

  it('skips the header and the buffer-started marker', () => {
    expect(parseFunctionTrace('# tracer: function\n##### CPU 1 buffer started ####\n', 1, [], false).functions).toEqual([]);
  });
});
