import type { CaptureParams } from '../../../api/v1alpha1/captures.js';
import type { NodeNamespace } from '../../engine/node-netns.js';
import { podText } from '../../engine/workload.js';

/** Where one file of the bundle comes from. */
export type ItemSource =
  | { kind: 'command'; command: string; args: string[] }
  | { kind: 'file'; path: string }
  /** /boot/config-<release>, or /proc/config.gz when the kernel carries its own. */
  | { kind: 'kernel-config' }
  /** Every record in /dev/kmsg, as dmesg -x prints them (with facility and level). */
  | { kind: 'kernel-log' }
  /** What the agent probed about the node. */
  | { kind: 'node-facts' }
  /** A command run inside another network namespace (a pod's), entered through one of its processes. */
  | { kind: 'netns-command'; command: string; args: string[]; pid: number; inode: number; label: string }
  /** Text the capture wrote itself. */
  | { kind: 'text'; text: string; description: string };

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

/** Who a namespace belongs to, for a reader: "pod shop/web-1 (Deployment/web)", or the process it was found through. */
export function namespaceLabel(ns: NodeNamespace): string {
  return ns.workload && !ns.workload.host ? podText(ns.workload) : `no pod (found through pid ${ns.pid}, ${ns.comm})`;
}

/** A directory name for a namespace: its inode, and the pod's namespace and name where known. */
function namespaceDir(ns: NodeNamespace): string {
  const pod = ns.workload && !ns.workload.host && ns.workload.pod ? `-${ns.workload.namespace}_${ns.workload.pod}` : '';
  return `netns/${ns.inode}${pod}`.replace(/[^\w./-]/g, '_');
}

/**
 * The socket and address listings of every network namespace of the node other than its own
 * (whose listings are the bundle's ip-addr.txt and ss.txt): the pods'. Each is read inside the
 * namespace; netns/namespaces.txt says which pod each directory is.
 */
export function podNamespaceItems(namespaces: readonly NodeNamespace[]): BundleItem[] {
  const others = namespaces.filter((ns) => !ns.host);
  if (others.length === 0) return [];
  const index = others.map((ns) => `${namespaceDir(ns)}/\tnet:[${ns.inode}]\t${namespaceLabel(ns)}\n`).join('');
  const inNamespace = (ns: NodeNamespace, file: string, cmd: string, ...args: string[]): BundleItem => ({
    file: `${namespaceDir(ns)}/${file}`,
    source: { kind: 'netns-command', command: cmd, args, pid: ns.pid, inode: ns.inode, label: namespaceLabel(ns) },
  });
  return [
    { file: 'netns/namespaces.txt', source: { kind: 'text', text: index, description: 'the network namespaces of the node’s pods, by directory' } },
    ...others.flatMap((ns) => [
      inNamespace(ns, 'ip-addr.txt', 'ip', 'addr', 'show'),
      inNamespace(ns, 'ip-route.txt', 'ip', 'route', 'show'),
      inNamespace(ns, 'ss.txt', 'ss', '-tunap'),
    ]),
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
  nsenter: 'util-linux',
};
