import { describe, expect, it } from 'vitest';
import { parsePressure } from '../../../node-agent/procfs/pressure.js';
import { fixture } from '../fixtures.js';

describe('parsePressure (recorded on this VM)', () => {
  it('reads some and full with their averages and total stall time', () => {
    const cpu = parsePressure(fixture('pressure', 'cpu.txt'));
    expect(cpu.some.totalUs).toBeGreaterThan(0);
    expect(cpu.some.avg60).toBeGreaterThanOrEqual(0);
    expect(cpu.some.avg60).toBeLessThanOrEqual(100);
    expect(cpu.full).toBeDefined();
    const io = parsePressure(fixture('pressure', 'io.txt'));
    expect(io.full!.totalUs).toBeLessThanOrEqual(io.some.totalUs);
  });

  it('takes a cpu file without the full line (before 5.13) and refuses text that is not PSI', () => {
    expect(parsePressure('some avg10=1.50 avg60=0.25 avg300=0.05 total=123456\n')).toEqual({
      some: { avg10: 1.5, avg60: 0.25, avg300: 0.05, totalUs: 123456 },
    });
    expect(() => parsePressure('')).toThrow(/not pressure stall information/);
  });
});
