import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../../lib/paths.js';
import { AllowListError, buildAllowList } from '../../../lib/sysctl/allowlist.js';
import { loadAllowList } from '../../../lib/sysctl/allowlist-load.js';
import { checkSysctl } from '../../../lib/sysctl/check.js';

const fixtures = join(projectRoot, 'test', 'fixtures', 'sysctl');

describe('the shipped allow-list', () => {
  it('loads every shipped allow-list file', async () => {
    const files = (await readdir(join(projectRoot, 'config'))).filter((f) => /^sysctl-allowlist.*\.ya?ml$/.test(f));
    expect(files).toContain('sysctl-allowlist.yaml');
    for (const file of files) {
      const allowList = await loadAllowList({ basePath: join(projectRoot, 'config', file) });
      expect(allowList.sysctls.size, file).toBeGreaterThan(0);
    }
  });

  it('holds the keys mitigations need and none of the dangerous ones', async () => {
    const allowList = await loadAllowList();
    for (const name of [
      'net.ipv4.tcp_fastopen',
      'net.ipv4.tcp_rmem',
      'net.ipv4.tcp_congestion_control',
      'vm.min_free_kbytes',
      'vm.swappiness',
      'kernel.numa_balancing',
    ]) {
      expect(allowList.sysctls.has(name), name).toBe(true);
    }
    for (const name of [
      'kernel.panic',
      'kernel.panic_on_oops',
      'kernel.softlockup_panic',
      'vm.panic_on_oom',
      'kernel.core_pattern',
      'kernel.sysrq',
      'kernel.modprobe',
    ]) {
      expect(allowList.sysctls.has(name), name).toBe(false);
      expect(
        allowList.denied.some((d) => new RegExp(`^${d.pattern.replaceAll('.', '\\.').replaceAll('*', '.*')}$`).test(name)),
        name,
      ).toBe(true);
    }
    expect(allowList.sysctls.get('net.core.netdev_max_backlog')?.scope).toBe('global');
    expect(allowList.sysctls.get('net.core.somaxconn')?.scope).toBe('netns');
  });
});

describe('loading and merging', () => {
  it('merges an extra YAML file: adds keys, narrows ranges and enums, denies more', async () => {
    const allowList = await loadAllowList({ extraPaths: [join(fixtures, 'allowlist-extra.yaml'), join(fixtures, 'allowlist-extra.json')] });
    expect(allowList.sources).toEqual([
      'config/sysctl-allowlist.yaml',
      'test/fixtures/sysctl/allowlist-extra.yaml',
      'test/fixtures/sysctl/allowlist-extra.json',
    ]);
    expect(checkSysctl(allowList, 'net.ipv4.tcp_early_retrans', '0')).toMatchObject({ ok: true, value: '0' });
    expect(checkSysctl(allowList, 'vm.swappiness', '100')).toEqual({ ok: false, reason: 'vm.swappiness=100 is out of range 0..60' });
    expect(checkSysctl(allowList, 'net.ipv4.tcp_congestion_control', 'reno')).toEqual({
      ok: false,
      reason: 'net.ipv4.tcp_congestion_control=reno is not one of cubic, bbr',
    });
    expect(checkSysctl(allowList, 'vm.dirty_ratio', '50')).toEqual({ ok: false, reason: 'vm.dirty_ratio=50 is out of range 5..40' });
    // The extra's denied pattern removes a key of the shipped file.
    const refused = checkSysctl(allowList, 'kernel.sched_autogroup_enabled', '0');
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.reason).toContain('never allowed: this platform does not let mitigations touch the scheduler');
  });

  it.each([
    ['allowlist-bad-range.yaml', 'allowlist-bad-range.yaml: sysctls[1] (vm.dirty_ratio): min 50 is above max 10; swap them'],
    ['allowlist-bad-field.yaml', 'allowlist-bad-field.yaml: sysctls[0] (net.ipv4.tcp_sack)'],
    [
      'allowlist-bad-widen.yaml',
      'sysctls[0] (vm.swappiness): an extra entry may only narrow vm.swappiness as defined in config/sysctl-allowlist.yaml, but 0..300 is not inside 0..200',
    ],
    ['allowlist-bad-denied.yaml', 'sysctls[0] (kernel.panic_on_oops): kernel.panic_on_oops matches the denied pattern kernel.*panic*'],
    ['allowlist-bad-scope.yaml', 'sysctls[0] (vm.overcommit_ratio): scope is netns but only net.* sysctls belong to a network namespace'],
  ])('refuses %s and names the entry', async (file, message) => {
    const error = await loadAllowList({ extraPaths: [join(fixtures, file)] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AllowListError);
    expect((error as Error).message).toContain(message);
  });

  it('names an unknown field, a missing file and broken YAML', async () => {
    const unknownField = await loadAllowList({ extraPaths: [join(fixtures, 'allowlist-bad-field.yaml')] }).catch((e: Error) => e.message);
    expect(unknownField).toMatch(/maximum/);
    const missing = await loadAllowList({ extraPaths: ['/nonexistent/extra.yaml'] }).catch((e: Error) => e.message);
    expect(missing).toContain('cannot read the sysctl allow-list /nonexistent/extra.yaml');
    const broken = (() => {
      try {
        return buildAllowList([{ source: 'x.yaml', data: { sysctls: [{ name: 'vm.swappiness', scope: 'global', type: 'range', why: 'a wrong type name' }] } }]);
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(broken).toMatch(/^x\.yaml: sysctls\[0\] \(vm\.swappiness\)\.type: /);
  });

  it('refuses a key listed twice in one file', () => {
    const entry = { name: 'vm.swappiness', scope: 'global', type: 'integer', min: 0, max: 10, why: 'listed twice on purpose' };
    expect(() => buildAllowList([{ source: 'base.yaml', data: { sysctls: [entry, entry] } }])).toThrow(
      'base.yaml: sysctls[1] (vm.swappiness): vm.swappiness is listed twice (also sysctls[0])',
    );
  });

  it('keeps the ordering rule of a tuple when an extra narrows it', () => {
    const tuple = (ascending: boolean) => ({
      name: 'net.ipv4.tcp_rmem',
      scope: 'netns',
      type: 'tuple',
      ascending,
      fields: [
        { name: 'min', min: 1, max: 100 },
        { name: 'default', min: 1, max: 100 },
        { name: 'max', min: 1, max: 100 },
      ],
      why: 'a tuple for the merge rules',
    });
    const allowList = buildAllowList([
      { source: 'base.yaml', data: { sysctls: [tuple(true)] } },
      { source: 'extra.yaml', data: { sysctls: [tuple(false)] } },
    ]);
    expect(checkSysctl(allowList, 'net.ipv4.tcp_rmem', '50 10 60').ok).toBe(false);
  });
});

describe('checkSysctl', async () => {
  const allowList = await loadAllowList();

  it('refuses a key outside the allow-list and says where the list is', () => {
    expect(checkSysctl(allowList, 'kernel.panic', '10')).toEqual({
      ok: false,
      reason:
        'kernel.panic is not in the sysctl allow-list; allowed keys are listed in config/sysctl-allowlist.yaml (kernel.panic is never allowed: a panic setting reboots or halts the node at the next oops, lockup or warning)',
    });
    expect(checkSysctl(allowList, 'net.ipv4.tcp_foo', '1')).toEqual({
      ok: false,
      reason: 'net.ipv4.tcp_foo is not in the sysctl allow-list; allowed keys are listed in config/sysctl-allowlist.yaml',
    });
  });

  it.each([
    ['vm.swappiness', '500', 'vm.swappiness=500 is out of range 0..200'],
    ['vm.swappiness', '-1', 'vm.swappiness=-1 is out of range 0..200'],
    ['vm.swappiness', 'ten', 'vm.swappiness=ten is not an integer; allowed range 0..200'],
    ['vm.swappiness', '0x10', 'vm.swappiness=0x10 is not an integer; allowed range 0..200'],
    [
      'net.ipv4.tcp_rmem',
      '4096 87380',
      'net.ipv4.tcp_rmem=4096 87380 must be 3 integers separated by blanks: min 4096..16777216 <= default 4096..67108864 <= max 4096..1073741824',
    ],
    ['net.ipv4.tcp_rmem', '1024 87380 6291456', 'net.ipv4.tcp_rmem=1024 87380 6291456: min=1024 is out of range 4096..16777216'],
    ['net.ipv4.tcp_rmem', '8192 4096 6291456', 'net.ipv4.tcp_rmem=8192 4096 6291456: the values must not decrease (min <= default <= max)'],
    ['net.ipv4.ip_local_port_range', '60999 32768', 'net.ipv4.ip_local_port_range=60999 32768: the values must not decrease (low <= high)'],
    [
      'net.ipv4.tcp_congestion_control',
      'foo',
      'net.ipv4.tcp_congestion_control=foo is not one of reno, cubic, bbr, htcp, dctcp, westwood, vegas, bic, hybla, illinois, scalable, yeah, lp, veno, highspeed, nv, cdg',
    ],
  ])('refuses %s=%s', (name, value, reason) => {
    expect(checkSysctl(allowList, name, value)).toEqual({ ok: false, reason });
  });

  it.each([
    ['net.ipv4.tcp_fastopen', '0', '0'],
    ['vm.swappiness', ' 200 ', '200'],
    // The kernel reads "010" as octal 8: the canonical form written is decimal.
    ['vm.swappiness', '010', '10'],
    ['net.ipv4.tcp_rmem', '4096\t87380  6291456\n', '4096 87380 6291456'],
    ['net.ipv4.tcp_congestion_control', 'cubic', 'cubic'],
  ])('accepts %s=%j as %j', (name, value, canonical) => {
    expect(checkSysctl(allowList, name, value)).toMatchObject({ ok: true, value: canonical });
  });
});
