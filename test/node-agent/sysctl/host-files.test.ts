import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../../lib/paths.js';
import { hostAssignmentFor, readHostSysctlFiles } from '../../../node-agent/sysctl/host-files.js';
import { parseSysctlConf } from '../../../node-agent/sysctl/sysctl-conf.js';
import { tempDir } from './temp-dirs.js';

const fixtures = join(projectRoot, 'test', 'fixtures', 'sysctl');
const fixture = (name: string) => readFile(join(fixtures, name), 'utf8');

describe('parseSysctlConf', () => {
  it("finds nothing in Debian's sysctl.conf, where every line is a comment (recorded)", async () => {
    expect(parseSysctlConf(await fixture('etc-sysctl.conf'))).toEqual([]);
  });

  it("reads the assignments of systemd's and Debian's sysctl.d files (recorded)", async () => {
    expect(parseSysctlConf(await fixture('usr-lib-sysctl.d-50-pid-max.conf'))).toEqual([{ name: 'kernel.pid_max', value: '4194304', line: 16, glob: false }]);
    expect(parseSysctlConf(await fixture('usr-lib-sysctl.d-99-protect-links.conf')).map((a) => `${a.name}=${a.value}`)).toEqual([
      'fs.protected_fifos=1',
      'fs.protected_hardlinks=1',
      'fs.protected_regular=2',
      'fs.protected_symlinks=1',
    ]);
  });

  it('handles blanks, ; comments, the - prefix, slash-separated keys and globs', async () => {
    expect(parseSysctlConf(await fixture('host-overrides.conf'))).toEqual([
      { name: 'net.ipv4.tcp_fastopen', value: '3', line: 2, glob: false },
      { name: 'vm.swappiness', value: '10', line: 3, glob: false },
      { name: 'net.ipv4.tcp_sack', value: '0', line: 5, glob: false },
      { name: 'net.ipv4.conf.eth0/1.rp_filter', value: '2', line: 6, glob: false },
      { name: 'net.ipv4.conf.*.accept_redirects', value: '0', line: 7, glob: true },
      { name: 'net.ipv4.tcp_rmem', value: '4096\t87380\t6291456', line: 9, glob: false },
      { name: 'vm.swappiness', value: '20', line: 10, glob: false },
    ]);
  });
});

describe('readHostSysctlFiles', () => {
  async function hostRoot() {
    const root = await tempDir('ksleuth-hostroot-');
    for (const dir of ['etc/sysctl.d', 'run/sysctl.d', 'usr/lib/sysctl.d']) await mkdir(join(root, dir), { recursive: true });
    return root;
  }

  it('applies files in systemd-sysctl order, /etc/sysctl.conf last, and names the file that wins', async () => {
    const root = await hostRoot();
    await copyFile(join(fixtures, 'usr-lib-sysctl.d-50-pid-max.conf'), join(root, 'usr/lib/sysctl.d/50-pid-max.conf'));
    await copyFile(join(fixtures, 'usr-lib-sysctl.d-99-protect-links.conf'), join(root, 'usr/lib/sysctl.d/99-protect-links.conf'));
    await copyFile(join(fixtures, 'host-overrides.conf'), join(root, 'run/sysctl.d/60-overrides.conf'));
    await writeFile(join(root, 'etc/sysctl.d/10-early.conf'), 'net.ipv4.tcp_fastopen = 1\nkernel.pid_max = 65536\n');
    await writeFile(join(root, 'etc/sysctl.conf'), 'vm.swappiness = 30\n');
    // Debian links 99-sysctl.conf to ../sysctl.conf; an absolute link must resolve inside hostRoot.
    await symlink('/etc/sysctl.conf', join(root, 'etc/sysctl.d/99-sysctl.conf'));
    const files = await readHostSysctlFiles(root);
    expect(files.problems).toEqual([]);
    expect(hostAssignmentFor(files, 'net.ipv4.tcp_fastopen')).toMatchObject({ file: '/run/sysctl.d/60-overrides.conf', value: '3', line: 2 });
    expect(hostAssignmentFor(files, 'kernel.pid_max')).toMatchObject({ file: '/usr/lib/sysctl.d/50-pid-max.conf', value: '4194304' });
    expect(hostAssignmentFor(files, 'vm.swappiness')).toMatchObject({ file: '/etc/sysctl.conf', value: '30' });
    expect(hostAssignmentFor(files, 'net.ipv4.conf.eth0.accept_redirects')).toMatchObject({ file: '/run/sysctl.d/60-overrides.conf', line: 7 });
    expect(hostAssignmentFor(files, 'net.ipv4.tcp_keepalive_time')).toBeUndefined();
  });

  it('lets a file in /etc hide the file of the same name in /usr/lib, and a link to /dev/null mask it', async () => {
    const root = await hostRoot();
    await copyFile(join(fixtures, 'usr-lib-sysctl.d-50-pid-max.conf'), join(root, 'usr/lib/sysctl.d/50-pid-max.conf'));
    await copyFile(join(fixtures, 'usr-lib-sysctl.d-99-protect-links.conf'), join(root, 'usr/lib/sysctl.d/99-protect-links.conf'));
    await writeFile(join(root, 'etc/sysctl.d/50-pid-max.conf'), 'kernel.pid_max = 99999\n');
    await symlink('/dev/null', join(root, 'etc/sysctl.d/99-protect-links.conf'));
    const files = await readHostSysctlFiles(root);
    expect(hostAssignmentFor(files, 'kernel.pid_max')).toMatchObject({ file: '/etc/sysctl.d/50-pid-max.conf', value: '99999' });
    expect(hostAssignmentFor(files, 'fs.protected_regular')).toBeUndefined();
  });

  it('reads nothing from an empty host root and reports no problem', async () => {
    const root = await tempDir('ksleuth-hostroot-');
    expect(await readHostSysctlFiles(root)).toEqual({ assignments: [], problems: [] });
  });

  it("reads this machine's real files", async () => {
    const files = await readHostSysctlFiles('/');
    expect(files.problems).toEqual([]);
    for (const assignment of files.assignments) expect(assignment.file).toMatch(/^\/(etc|run|usr|lib)\/.*\.conf$/);
    if (existsSync('/usr/lib/sysctl.d/50-pid-max.conf') && !existsSync('/etc/sysctl.d/50-pid-max.conf')) {
      expect(hostAssignmentFor(files, 'kernel.pid_max')?.file).toBe('/usr/lib/sysctl.d/50-pid-max.conf');
    }
  });
});
