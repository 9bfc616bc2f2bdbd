import type { CaptureParams } from '../../../api/v1alpha1/captures.js';

/** Where one file of the bundle comes from. */
export type ItemSource =
  | { kind: 'command'; command: string; args: string[] }
  | { kind: 'file'; path: string }
  /** /boot/config-<release>, or /proc/config.gz when the kernel carries its own. */
  | { kind: 'kernel-config' }
  /** Every record in /dev/kmsg, as dmesg -x prints them (with facility and level). */
  | { kind: 'kernel-log' }
  /** What the agent probed about the node. */
  | { kind: 'node-facts' };

export interface BundleItem {
  file: string;
  source: ItemSource;
}

const command = (file: string, cmd: string, ...args: string[]): BundleItem => ({ file, source: { kind: 'command', command: cmd, args } });
const proc = (file: string, path: string): BundleItem => ({ file, source: { kind: 'file', path } });

/** What a kernel bug report needs, in the order it is read. */
export function bundleItems(params: CaptureParams<'bundle'>): BundleItem[] {
  return [
    command('uname.txt', 'uname', '-a'),
    proc('proc-version.txt', '/proc/version'),
    proc('cmdline.txt', '/proc/cmdline'),
    proc('tainted.txt', '/proc/sys/kernel/tainted'),
    ...(params.includeKernelConfig ? [{ file: 'kernel-config.txt', source: { kind: 'kernel-config' } } as const] : []),
    proc('modules.txt', '/proc/modules'),
    command('lscpu.txt', 'lscpu'),
    command('lspci.txt', 'lspci', '-vvv'),
    ...(params.includeKernelLog ? [{ file: 'kernel-log.txt', source: { kind: 'kernel-log' } } as const] : []),
    proc('meminfo.txt', '/proc/meminfo'),
    proc('slabinfo.txt', '/proc/slabinfo'),
    proc('vmstat.txt', '/proc/vmstat'),
    proc('buddyinfo.txt', '/proc/buddyinfo'),
    proc('pagetypeinfo.txt', '/proc/pagetypeinfo'),
    proc('zoneinfo.txt', '/proc/zoneinfo'),
    command('ip-addr.txt', 'ip', 'addr', 'show'),
    command('ip-route.txt', 'ip', 'route', 'show'),
    command('ss.txt', 'ss', '-tunap'),
    command('sysctl.txt', 'sysctl', '-a'),
    { file: 'node-facts.json', source: { kind: 'node-facts' } },
  ];
}

/** Debian packages that provide the commands, for the message when one is missing. */
export const commandPackages: Record<string, string> = {
  uname: 'coreutils',
  lscpu: 'util-linux',
  lspci: 'pciutils',
  ip: 'iproute2',
  ss: 'iproute2',
  sysctl: 'procps',
};
