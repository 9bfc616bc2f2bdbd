import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compareReleases } from '../../../lib/kernel/compare.js';
import { parseOsRelease, parseProcVersion, refineRelease } from '../../../lib/kernel/proc-version.js';
import { kernelFamilies, type OsHint, parseKernelRelease, upstreamText } from '../../../lib/kernel/release.js';
import { projectRoot } from '../../../lib/paths.js';

interface Fixture {
  releases: { release: string | number; family: string; line: string; upstream: string; os?: OsHint; source: string }[];
  orderings: { line: string; releases: string[]; os?: OsHint }[];
  procVersions: { text: string; release: string; debianPackage?: string; ubuntuUpload?: number; upstream?: string; source: string }[];
}

const fixture = parse(readFileSync(join(projectRoot, 'test', 'fixtures', 'kernel-release', 'releases.yaml'), 'utf8')) as Fixture;
const read = (text: string, os?: OsHint) => {
  const release = parseKernelRelease(text, os);
  if (!release) throw new Error(`cannot read ${text}`);
  return release;
};

describe('kernel releases of every family', () => {
  it('has real examples of every family, each with a source', () => {
    const families = new Set(fixture.releases.map((r) => r.family));
    for (const family of kernelFamilies) expect(families, family).toContain(family);
    for (const r of fixture.releases) expect(r.source, String(r.release)).toMatch(/^(https:\/\/|this machine)/);
  });

  it.each(fixture.releases.map((r) => [String(r.release), r] as const))('reads %s', (text, expected) => {
    const release = read(text, expected.os);
    expect({ family: release.family, line: release.line, upstream: upstreamText(release.upstream) }).toEqual({
      family: expected.family,
      line: expected.line,
      upstream: expected.upstream,
    });
  });

  it('orders releases of every family a node pool commonly runs, on real strings', () => {
    const ordered = new Set(fixture.orderings.flatMap((o) => o.releases.map((r) => read(r, o.os).family)));
    for (const family of ['debian', 'ubuntu', 'rhel', 'amazon', 'cos', 'bottlerocket', 'flatcar'] as const) expect(ordered, family).toContain(family);
  });

  it.each(fixture.orderings.map((o) => [o.line, o.releases, o.os] as const))('orders the %s line as the distribution numbers it', (line, releases, os) => {
    const parsed = releases.map((r) => read(r, os));
    for (const r of parsed) expect(r.line).toBe(line);
    for (let i = 1; i < parsed.length; i++) {
      expect(compareReleases(parsed[i - 1]!, parsed[i]!), `${releases[i - 1]} < ${releases[i]}`).toBe(-1);
      expect(compareReleases(parsed[i]!, parsed[i - 1]!)).toBe(1);
    }
    const shuffled = [...parsed].reverse().sort((a, b) => compareReleases(a, b)!);
    expect(shuffled.map((r) => r.text)).toEqual(releases);
  });

  it('keeps the distribution numbers that order a line', () => {
    expect(read('6.1.0-18-amd64').build).toEqual([18]);
    expect(read('5.14.0-362.24.1.el9_3.x86_64')).toMatchObject({ build: [362, 24, 1], arch: 'x86_64' });
    expect(read('6.1.79-99.164.amzn2023.x86_64')).toMatchObject({ build: [99, 164], upstream: { major: 6, minor: 1, patch: 79 } });
    expect(read('5.15.0-200.131.27.el9uek.x86_64')).toMatchObject({ family: 'oracle-uek', line: 'uek', build: [200, 131, 27] });
    expect(read('4.18.0-513.5.1.rt7.307.el8_9.x86_64')).toMatchObject({ line: 'el8-rt', build: [513, 5, 1, 7, 307], flavour: 'rt' });
    expect(read('5.14.0-362.8.1.el9_3.aarch64+64k')).toMatchObject({ line: 'el9', flavour: '64k', arch: 'aarch64' });
    expect(read('5.14.21-150500.55.44-default')).toMatchObject({ family: 'suse', line: 'suse', build: [150500, 55, 44] });
    expect(read('5.14.21-150500.33.29-azure')).toMatchObject({ line: 'suse-azure' });
    expect(read('6.14.0-rc3-1.gb6b4102-default')).toMatchObject({ family: 'suse', upstream: { rc: 3 }, build: [1] });
    expect(read('6.1.0-0.deb11.17-amd64')).toMatchObject({ family: 'debian', build: [17] });
    expect(read('5.10.0-0.bpo.15-amd64')).toMatchObject({ family: 'debian', build: [15] });
    expect(read('6.6.47.1-1.azl3')).toMatchObject({ family: 'azure-linux', line: 'azl3', upstream: { patch: 47 } });
  });

  it('reads mainline builds the way scripts/setlocalversion names them', () => {
    expect(read('6.8.0-rc3')).toMatchObject({ family: 'mainline', upstream: { major: 6, minor: 8, patch: 0, rc: 3 } });
    expect(read('6.8.0-rc3+')).toMatchObject({ family: 'mainline', upstream: { rc: 3 } });
    expect(read('6.8.0-rc3-dirty')).toMatchObject({ family: 'mainline' });
    expect(read('6.9.0-rc1-00012-gabcdef012345')).toMatchObject({ family: 'mainline', upstream: { rc: 1 } });
    expect(read('6.7.0+')).toMatchObject({ family: 'mainline' }); // x.y.0+ is a build past a tag, not COS
    expect(compareReleases(read('6.8.0-rc3'), read('6.8.0-rc4'))).toBe(-1);
    expect(compareReleases(read('6.8.0-rc7'), read('6.8.0'))).toBe(-1);
    expect(compareReleases(read('6.8.0'), read('6.8.1'))).toBe(-1);
  });

  it('tells COS, Bottlerocket and mainline apart by the OS image', () => {
    expect(read('6.1.75+', { osImage: 'Ubuntu 22.04.3 LTS' }).family).toBe('mainline');
    expect(read('6.1.75+').family).toBe('cos');
    expect(read('6.1.72', { osImage: 'Bottlerocket OS 1.19.2 (aws-k8s-1.29)' }).family).toBe('bottlerocket');
    expect(read('6.1.72').family).toBe('mainline');
    const cos = { osImage: 'Container-Optimized OS from Google' };
    const older = read('6.1.85+', { ...cos, buildId: '17800.218.69' });
    const newer = read('6.1.85+', { ...cos, buildId: '17800.218.76' });
    expect(older.build).toEqual([17800, 218, 69]);
    expect(compareReleases(older, newer)).toBe(-1);
  });

  it('never orders two distributions beyond the upstream version', () => {
    // Debian's 6.1.0-18 is upstream 6.1.76: against any 6.1 kernel of another line it has no place.
    expect(compareReleases(read('6.1.0-18-amd64'), read('6.1.50'))).toBeUndefined();
    expect(compareReleases(read('6.1.0-18-amd64'), read('6.1.79-99.164.amzn2023.x86_64'))).toBeUndefined();
    // Two builds of one upstream version by different distributions.
    expect(compareReleases(read('6.1.91', { osImage: 'Bottlerocket OS 1.21.0 (aws-k8s-1.28)' }), read('6.1.91-99.172.amzn2023'))).toBeUndefined();
    expect(compareReleases(read('6.6.21-flatcar'), read('6.6.21-talos'))).toBeUndefined();
    // Different upstream versions order across families.
    expect(compareReleases(read('6.1.0-18-amd64'), read('6.8.0-55-generic'))).toBe(-1);
    expect(compareReleases(read('6.6.21-flatcar'), read('6.1.85+'))).toBe(1);
    expect(compareReleases(read('5.15.102', { osImage: 'Bottlerocket OS 1.13.1' }), read('5.15.86-53.137.amzn2.x86_64'))).toBe(1);
    // Ubuntu's cloud kernels are numbered apart from the main kernel.
    expect(compareReleases(read('6.8.0-1015-aws'), read('6.8.0-45-generic'))).toBeUndefined();
    expect(compareReleases(read('6.8.0-1015-aws'), read('6.8.0-1016-aws'))).toBe(-1);
  });

  it('returns undefined for what is not a kernel release', () => {
    expect(parseKernelRelease('kwok-v0.8.0')).toBeUndefined();
    expect(parseKernelRelease('')).toBeUndefined();
    expect(parseKernelRelease('<unknown>')).toBeUndefined();
  });
});

describe('/proc/version and os-release', () => {
  it.each(fixture.procVersions.map((p) => [p.release, p] as const))('reads /proc/version of %s', (_release, expected) => {
    const parsed = parseProcVersion(expected.text)!;
    expect(parsed.release).toBe(expected.release);
    expect(parsed.debianPackage).toBe(expected.debianPackage);
    expect(parsed.ubuntuUpload).toBe(expected.ubuntuUpload);
    const refined = refineRelease(read(expected.release), parsed);
    if (expected.upstream) expect(upstreamText(refined.upstream)).toBe(expected.upstream);
    if (expected.ubuntuUpload) expect(refined.build.at(-1)).toBe(expected.ubuntuUpload);
  });

  it('reads this machine’s /proc/version', () => {
    const text = readFileSync('/proc/version', 'utf8');
    const parsed = parseProcVersion(text)!;
    expect(parsed.release).toBe(readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim());
    expect(parsed.build).toMatch(/^#/);
  });

  it('reads os-release, quotes and all', () => {
    const text = readFileSync(join(projectRoot, 'test', 'fixtures', 'kernel-release', 'os-release-cos-109.txt'), 'utf8');
    expect(parseOsRelease(text)).toMatchObject({ ID: 'cos', PRETTY_NAME: 'Container-Optimized OS from Google', BUILD_ID: '17800.218.69' });
    expect(parseOsRelease(readFileSync('/etc/os-release', 'utf8')).ID).toMatch(/^\w+$/);
  });
});
