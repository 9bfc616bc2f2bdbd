import { describe, expect, it } from 'vitest';
import { kernelInRange, KernelRangeError, kernelRangeVerdict, parseKernelRange } from '../../../lib/kernel/range.js';

const inRange = (release: string, range: string, osImage?: string) => kernelRangeVerdict(release, parseKernelRange(range), osImage ? { osImage } : {}).inRange;

describe('kernelVersions ranges', () => {
  it('orders upstream-version bounds across every family whose release tells the upstream version', () => {
    const range = '>=6.1.0 <6.1.50 || >=5.15.0 <5.15.120';
    expect(inRange('6.1.49', range)).toBe(true);
    expect(inRange('6.1.50', range)).toBe(false);
    expect(inRange('6.6.1', range)).toBe(false);
    expect(inRange('5.15.119-foo', range)).toBe(true);
    expect(inRange('5.10.0', range)).toBe(false);
    expect(inRange('6.1.29-47.49.amzn2023.x86_64', range)).toBe(true);
    expect(inRange('6.1.79-99.164.amzn2023.x86_64', range)).toBe(false);
    expect(inRange('6.1.30-talos', range)).toBe(true);
    expect(inRange('6.1.85+', range)).toBe(false);
    expect(inRange('6.1.72', range, 'Bottlerocket OS 1.19.2 (aws-k8s-1.29)')).toBe(false);
    expect(inRange('6.1.41', range, 'Bottlerocket OS 1.14.3 (aws-k8s-1.27)')).toBe(true);
    expect(inRange('6.1.0', '6.1')).toBe(true);
    expect(inRange('6.1.8', '<=6.1.7')).toBe(false);
    expect(inRange('6.8.0-rc3', '<6.8.0')).toBe(true);
    expect(inRange('6.8.0-rc3', '>=6.8.0-rc2 <6.8.0-rc4')).toBe(true);
  });

  it('cannot place a Debian, Ubuntu or RHEL kernel with an upstream patch level, and says why', () => {
    // Debian's 6.1.0-18 is upstream 6.1.76: "<6.1.50" is false for it, and the release does not say so.
    const verdict = kernelRangeVerdict('6.1.0-18-amd64', parseKernelRange('>=6.1.0 <6.1.50'));
    expect(verdict.inRange).toBeUndefined();
    expect(verdict.reason).toMatch(
      /6\.1\.0-18-amd64 is a Debian kernel: its release names the Debian build, not the upstream patch level \(it is 6\.1\.x\).*">=6\.1\.0-18-amd64"/,
    );
    expect(kernelInRange('6.1.0-18-amd64', parseKernelRange('>=6.1.0 <6.1.50'))).toBe(false);
    // What the release does tell still decides.
    expect(inRange('6.1.0-18-amd64', '>=6.1.0 <6.2')).toBe(true);
    expect(inRange('6.1.0-18-amd64', '>=6.2')).toBe(false);
    expect(inRange('5.14.0-362.8.1.el9_3.x86_64', '>=5.10 <5.15')).toBe(true);
    expect(inRange('5.14.21-150500.55.44-default', '>=5.14.21')).toBe(true);
    expect(inRange('5.14.21-150500.55.44-default', '<5.14.30')).toBeUndefined();
  });

  it('orders a distribution’s releases by its own numbers', () => {
    const debian = '>=6.1.0-18 <6.1.0-28';
    expect(inRange('6.1.0-18-amd64', debian)).toBe(true);
    expect(inRange('6.1.0-20-cloud-amd64', debian)).toBe(true);
    expect(inRange('6.1.0-27-arm64', debian)).toBe(true);
    expect(inRange('6.1.0-28-amd64', debian)).toBe(false);
    expect(inRange('6.1.0-17-amd64', debian)).toBe(false);
    expect(inRange('5.10.0-28-cloud-amd64', debian)).toBe(false);
    // Another distribution's 6.1: not ordered against Debian's numbers.
    expect(inRange('6.1.79-99.164.amzn2023.x86_64', debian)).toBeUndefined();
    // Another series: ordered by upstream version.
    expect(inRange('6.8.0-55-generic', debian)).toBe(false);

    const rhel = '>=5.14.0-362.8.1.el9_3';
    expect(inRange('5.14.0-362.8.1.el9_3.x86_64', rhel)).toBe(true);
    expect(inRange('5.14.0-362.24.1.el9_3.x86_64', rhel)).toBe(true);
    expect(inRange('5.14.0-427.13.1.el9_4.x86_64', rhel)).toBe(true);
    expect(inRange('5.14.0-284.30.1.el9_2.x86_64', rhel)).toBe(false);
    expect(inRange('5.14.0-362.8.1.el9_3.aarch64+64k', rhel)).toBe(true);
    expect(inRange('4.18.0-513.11.1.el8_9.x86_64', rhel)).toBe(false);
    // Oracle's RHCK rebuild of the same build compares equal on the numbers the bound gives.
    expect(inRange('5.14.0-362.8.1.0.1.el9_3.x86_64', '=5.14.0-362.8.1.el9_3')).toBe(true);

    expect(inRange('6.1.79-99.164.amzn2023.x86_64', '>=6.1.79-99.164.amzn2023 <6.1.90-99.173.amzn2023')).toBe(true);
    expect(inRange('6.1.90-99.173.amzn2023.x86_64', '>=6.1.79-99.164.amzn2023 <6.1.90-99.173.amzn2023')).toBe(false);
    expect(inRange('5.15.0-91-generic', '>=5.15.0-88-generic <5.15.0-94-generic')).toBe(true);
    expect(inRange('5.15.0-91-lowlatency', '>=5.15.0-88-generic <5.15.0-94-generic')).toBe(true);
    expect(inRange('6.8.0-1015-aws', '>=6.8.0-1010-aws')).toBe(true);
    expect(inRange('6.8.0-1015-azure', '>=6.8.0-1010-aws')).toBeUndefined();
    expect(inRange('6.6.21-flatcar', '>=6.6.0-flatcar <6.6.30-flatcar')).toBe(true);
    expect(inRange('5.14.21-150500.55.44-default', '>=5.14.21-150500.55.39-default')).toBe(true);
  });

  it('reads comparators with or without blanks, and alternatives', () => {
    expect(parseKernelRange('>=6.1.0<6.1.50').alternatives[0]!.map((c) => `${c.op}${c.bound.text}`)).toEqual(['>=6.1.0', '<6.1.50']);
    expect(parseKernelRange(' >= 6.1.0-18  <  6.1.0-28 || =6.6.21-flatcar ').alternatives).toHaveLength(2);
    expect(parseKernelRange('6.1.7').alternatives[0]![0]!.op).toBe('=');
  });

  it('refuses what it cannot use, naming the field, the part and the fix', () => {
    const error = (text: string) => {
      try {
        parseKernelRange(text, 'spec.kernelVersions');
      } catch (e) {
        expect(e).toBeInstanceOf(KernelRangeError);
        return (e as Error).message;
      }
      throw new Error(`"${text}" was accepted`);
    };
    expect(error('>=6.1 and <6.2')).toMatch(/^spec\.kernelVersions ">=6\.1 and <6\.2": and is not a kernel version/);
    expect(error('>=6.8.0-1015')).toMatch(/Ubuntu cloud kernel .* add the flavour, for example 6\.8\.0-1015-aws/);
    expect(error('>=5.14.0-362.8.1')).toMatch(/does not say which distribution.*5\.14\.0-362\.8\.1\.el9_3/);
    expect(error('>=6.1 ||')).toMatch(/"\|\|" with nothing on one side/);
    expect(error('   ')).toMatch(/is empty/);
    expect(error('>=')).toMatch(/cannot read/);
  });
});
