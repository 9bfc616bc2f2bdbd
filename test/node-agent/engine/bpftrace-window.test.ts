import { describe, expect, it } from 'vitest';
import { parseBpftraceOutput } from '../../../node-agent/engine/bpftrace-output.js';
import { printWindowEnd, printWindowStart, windowSeconds } from '../../../node-agent/engine/bpftrace-window.js';

const printed = (...lines: string[]) => parseBpftraceOutput(lines.map((l) => JSON.stringify({ type: 'printf', data: `${l}\n` })).join('\n'));

describe('the printed capture window', () => {
  it('prints the start from nsecs and the end from any expression', () => {
    expect(printWindowStart).toBe('printf("ksleuth window_start_ns %lld\\n", nsecs);');
    expect(printWindowEnd('$1')).toBe('printf("ksleuth window_end_ns %lld\\n", $1);');
  });

  it('measures from the start to the first end (the exit probe may fire twice)', () => {
    expect(
      windowSeconds(printed('ksleuth window_start_ns 5000000000', 'other output', 'ksleuth window_end_ns 7500000000', 'ksleuth window_end_ns 7600000000')),
    ).toBe(2.5);
  });

  it('is 0 without a start or an end, or when bpftrace attached after the window ended', () => {
    expect(windowSeconds(printed('ksleuth window_start_ns 5000000000'))).toBe(0);
    expect(windowSeconds(printed('ksleuth window_end_ns 5000000000'))).toBe(0);
    expect(windowSeconds(printed('ksleuth window_start_ns 9000000000', 'ksleuth window_end_ns 5000000000'))).toBe(0);
  });
});
