import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../../lib/paths.js';
import { sysctlNameOfPath, sysctlPath, sysctlPathComponents } from '../../../node-agent/sysctl/names.js';
import { readSysctl, SysctlIoError, writeSysctl } from '../../../node-agent/sysctl/proc-sys.js';
import { normaliseSysctlValue } from '../../../lib/sysctl/value.js';
import { makeProcTree } from './proc-tree.js';

const fixtures = join(projectRoot, 'test', 'fixtures', 'sysctl');

describe('sysctl names and paths', () => {
  it('maps dots to path components and a slash to a dot inside a component (VLAN interfaces)', () => {
    expect(sysctlPath('/proc', 'net.ipv4.tcp_fastopen')).toBe('/proc/sys/net/ipv4/tcp_fastopen');
    expect(sysctlPath('/proc', 'net.ipv4.conf.eth0/1.rp_filter')).toBe('/proc/sys/net/ipv4/conf/eth0.1/rp_filter');
    expect(sysctlPath('/tmp/p', 'vm.page-cluster')).toBe('/tmp/p/sys/vm/page-cluster');
    expect(sysctlNameOfPath('net/ipv4/conf/eth0.1/rp_filter')).toBe('net.ipv4.conf.eth0/1.rp_filter');
    expect(sysctlNameOfPath(sysctlPathComponents('net.ipv4.conf.eth0/1.rp_filter').join('/'))).toBe('net.ipv4.conf.eth0/1.rp_filter');
  });

  it.each(['net..ipv4', 'net.ipv4.', 'net.//.x', 'net. ipv4', '.net'])('refuses %j, which would leave /proc/sys or name nothing', (name) => {
    expect(() => sysctlPathComponents(name)).toThrow(/is not a valid sysctl name: write it with dots/);
  });
});

describe('normaliseSysctlValue', () => {
  it('turns the tabs and newline the kernel prints into single spaces (recorded /proc/sys files)', async () => {
    const rmem = await readFile(join(fixtures, 'proc-sys-net-ipv4-tcp_rmem.txt'), 'utf8');
    expect(rmem).toMatch(/^\d+\t\d+\t\d+\n$/);
    expect(normaliseSysctlValue(rmem)).toBe(rmem.trim().replaceAll('\t', ' '));
    const ports = await readFile(join(fixtures, 'proc-sys-net-ipv4-ip_local_port_range.txt'), 'utf8');
    expect(normaliseSysctlValue(ports)).toMatch(/^\d+ \d+$/);
    expect(normaliseSysctlValue('  4096  87380\t 6291456 \n')).toBe('4096 87380 6291456');
  });
});

describe('reading and writing', () => {
  it('reads the real /proc/sys, normalised', async () => {
    expect(await readSysctl('/proc', 'net.ipv4.tcp_rmem')).toMatch(/^\d+ \d+ \d+$/);
    expect(await readSysctl('/proc', 'kernel.random.boot_id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('writes a whole value in place, shorter values included', async () => {
    const tree = await makeProcTree({ 'net.ipv4.tcp_rmem': '4096 131072 33554432' });
    await writeSysctl(tree.procRoot, 'net.ipv4.tcp_rmem', '4096 8192 16384');
    expect(await tree.raw('net.ipv4.tcp_rmem')).toBe('4096 8192 16384');
    expect(await readSysctl(tree.procRoot, 'net.ipv4.tcp_rmem')).toBe('4096 8192 16384');
  });

  it('reports a key the kernel lacks as NotFound and never creates it', async () => {
    const tree = await makeProcTree({});
    const error = await writeSysctl(tree.procRoot, 'net.core.netdev_max_backlog', '1000').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SysctlIoError);
    expect((error as SysctlIoError).reason).toBe('NotFound');
    expect((error as Error).message).toContain('net.core.netdev_max_backlog does not exist on this node');
    await expect(readSysctl(tree.procRoot, 'net.core.netdev_max_backlog')).rejects.toMatchObject({ reason: 'NotFound' });
  });

  it('reports a value the real kernel refuses as ValueRejected', async () => {
    // An unknown congestion-control name fails the write(2) with ENOENT and changes nothing.
    const before = await readSysctl('/proc', 'net.ipv4.tcp_congestion_control');
    const error = await writeSysctl('/proc', 'net.ipv4.tcp_congestion_control', 'no-such-algorithm').catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'ValueRejected' });
    expect((error as Error).message).toBe(
      'the kernel refused net.ipv4.tcp_congestion_control=no-such-algorithm (ENOENT); check that this kernel supports that value',
    );
    expect(await readSysctl('/proc', 'net.ipv4.tcp_congestion_control')).toBe(before);
  });
});
