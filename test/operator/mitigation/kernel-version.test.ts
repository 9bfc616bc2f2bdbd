import { describe, expect, it } from 'vitest';
import { kernelInRange, kernelVersionNumbers, parseKernelRange } from '../../../operator/mitigation/kernel-version.js';

describe('kernel versions', () => {
  it('reads the leading numbers of real kernel releases', () => {
    expect(kernelVersionNumbers('6.1.0-18-amd64')).toEqual([6, 1, 0]);
    expect(kernelVersionNumbers('5.15.0-1057-aws')).toEqual([5, 15, 0]);
    expect(kernelVersionNumbers('6.18.44-fc-v782')).toEqual([6, 18, 44]);
    expect(kernelVersionNumbers('4.19')).toEqual([4, 19, 0]);
    expect(kernelVersionNumbers('kwok-v0.8.0')).toBeUndefined();
  });

  it('matches ranges with comparators and alternatives', () => {
    const range = parseKernelRange('>=6.1.0 <6.1.50 || >=5.15.0 <5.15.120');
    expect(kernelInRange('6.1.0-18-amd64', range)).toBe(true);
    expect(kernelInRange('6.1.49', range)).toBe(true);
    expect(kernelInRange('6.1.50', range)).toBe(false);
    expect(kernelInRange('6.6.1', range)).toBe(false);
    expect(kernelInRange('5.15.119-foo', range)).toBe(true);
    expect(kernelInRange('5.10.0', range)).toBe(false);
    expect(kernelInRange('unknown', range)).toBe(false);
    expect(kernelInRange('6.1.7', parseKernelRange('6.1.7'))).toBe(true);
    expect(kernelInRange('6.1.8', parseKernelRange('<=6.1.7'))).toBe(false);
  });

  it('refuses what it cannot read, naming the part', () => {
    expect(() => parseKernelRange('>=6.1 and <6.2')).toThrow(/cannot read ">=6.1 and <6.2"/);
  });
});
