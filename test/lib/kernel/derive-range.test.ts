import { describe, expect, it } from 'vitest';
import { deriveKernelRange, type ReleaseObservation } from '../../../lib/kernel/derive-range.js';
import { kernelRangeVerdict, parseKernelRange } from '../../../lib/kernel/range.js';

const seen = (release: string): ReleaseObservation => ({ release, seen: true });
const clean = (release: string): ReleaseObservation => ({ release, seen: false });

describe('deriving a kernel range from a comparison', () => {
  it('states "seen on X and later, not on Y and earlier" within a distribution, and the range holds the evidence', () => {
    const observations = [clean('6.1.0-13-amd64'), seen('6.1.0-18-amd64'), clean('6.1.0-9-amd64'), seen('6.1.0-28-cloud-amd64')];
    const derived = deriveKernelRange(observations);
    expect(derived.statement).toBe('Debian: seen on 6.1.0-18-amd64 and later, not on 6.1.0-13-amd64 and earlier');
    expect(derived.range).toBe('>=6.1.0-18-amd64 <6.2');
    const range = parseKernelRange(derived.range!);
    for (const o of observations) expect(kernelRangeVerdict(o.release, range).inRange, o.release).toBe(o.seen);
    // A later Debian 6.1 build that was not looked at is covered; Ubuntu and Amazon kernels are not.
    expect(kernelRangeVerdict('6.1.0-30-amd64', range).inRange).toBe(true);
    expect(kernelRangeVerdict('6.1.79-99.164.amzn2023.x86_64', range).inRange).not.toBe(true);
  });

  it('states a window and a fix', () => {
    const window = deriveKernelRange([clean('6.1.0-13-amd64'), seen('6.1.0-18-amd64'), seen('6.1.0-20-amd64'), clean('6.1.0-28-amd64')]);
    expect(window.statement).toBe('Debian: seen on 6.1.0-18-amd64 to 6.1.0-20-amd64, not on 6.1.0-13-amd64 and earlier nor on 6.1.0-28-amd64 and later');
    expect(window.range).toBe('>=6.1.0-18-amd64 <6.1.0-28-amd64');
    const fixed = deriveKernelRange([seen('5.14.0-362.8.1.el9_3.x86_64'), seen('5.14.0-362.18.1.el9_3.x86_64'), clean('5.14.0-362.24.1.el9_3.x86_64')]);
    expect(fixed.statement).toBe('RHEL 9 and rebuilds: seen on 5.14.0-362.18.1.el9_3.x86_64 and earlier, not on 5.14.0-362.24.1.el9_3.x86_64 and later');
    const range = parseKernelRange(fixed.range!);
    expect(kernelRangeVerdict('5.14.0-362.8.1.el9_3.x86_64', range).inRange).toBe(true);
    expect(kernelRangeVerdict('5.14.0-362.24.1.el9_3.x86_64', range).inRange).toBe(false);
    expect(kernelRangeVerdict('5.14.0-427.13.1.el9_4.x86_64', range).inRange).toBe(false);
  });

  it('says it cannot when seen and not seen alternate', () => {
    const derived = deriveKernelRange([seen('6.1.79-99.164.amzn2023.x86_64'), clean('6.1.90-99.173.amzn2023.x86_64'), seen('6.1.102-108.177.amzn2023.x86_64')]);
    expect(derived.range).toBeUndefined();
    expect(derived.statement).toBe(
      'Amazon Linux 2023: cannot state a range: seen on 6.1.79-99.164.amzn2023.x86_64, then not seen on 6.1.90-99.173.amzn2023.x86_64, then seen on 6.1.102-108.177.amzn2023.x86_64',
    );
    const split = deriveKernelRange([seen('6.1.0-18-amd64'), clean('6.1.0-18-cloud-amd64')]);
    expect(split.range).toBeUndefined();
    expect(split.statement).toMatch(/seen on 6\.1\.0-18-amd64 but not on 6\.1\.0-18-cloud-amd64, which Debian numbers as the same build/);
  });

  it('keeps distributions apart: one line’s evidence never orders another’s', () => {
    const derived = deriveKernelRange([
      clean('6.1.0-13-amd64'),
      seen('6.1.0-18-amd64'),
      seen('6.1.79-99.164.amzn2023.x86_64'),
      clean('6.1.76'),
      { release: '6.1.85+', seen: true, os: { osImage: 'Container-Optimized OS from Google', buildId: '17800.218.69' } },
    ]);
    expect(derived.lines.map((l) => [l.label, l.kind])).toEqual([
      ['Amazon Linux 2023', 'everywhere'],
      ['Container-Optimized OS', 'everywhere'],
      ['Debian', 'introduced'],
    ]);
    expect(derived.statement).toContain(
      'Amazon Linux 2023: seen on every release looked at (6.1.79-99.164.amzn2023.x86_64); none without it to place a boundary',
    );
    expect(derived.range).toBe('=6.1.79-99.164.amzn2023.x86_64 || =6.1.85+ || >=6.1.0-18-amd64 <6.2');
    // The mainline 6.1.76 without the finding says nothing about the others.
    expect(derived.lines.some((l) => l.statement.includes('6.1.76'))).toBe(false);
  });

  it('says so when nothing showed the finding, and ignores what is not a kernel release', () => {
    expect(deriveKernelRange([clean('6.1.0-18-amd64'), { release: '<unknown>', seen: true }])).toEqual({
      statement: 'not seen on any kernel that was looked at',
      lines: [],
    });
  });
});
