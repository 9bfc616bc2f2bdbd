import { join } from 'node:path';

/**
 * How a dotted sysctl name maps to a file under /proc/sys, the rule procps `sysctl` uses:
 * each dot separates two path components, and a slash inside the dotted name stands for a dot
 * inside one component. So net.ipv4.conf.eth0/1.rp_filter is /proc/sys/net/ipv4/conf/eth0.1/rp_filter
 * (the VLAN interface "eth0.1"), while net.ipv4.conf.eth0.1.rp_filter would name a path
 * conf/eth0/1/rp_filter that does not exist.
 */
export function sysctlPathComponents(name: string): string[] {
  const components = name.split('.').map((part) => part.replaceAll('/', '.'));
  for (const component of components) {
    if (component === '' || component === '.' || component === '..' || /[\s\0]/.test(component)) {
      throw new Error(
        `"${name}" is not a valid sysctl name: write it with dots between components (net.ipv4.tcp_fastopen), and a slash for a dot inside one component (net.ipv4.conf.eth0/1.rp_filter)`,
      );
    }
  }
  return components;
}

/** The file that holds a sysctl, under procRoot (normally /proc). */
export function sysctlPath(procRoot: string, name: string): string {
  return join(procRoot, 'sys', ...sysctlPathComponents(name));
}

/** The dotted name of a path below /proc/sys ("net/ipv4/conf/eth0.1/rp_filter"), the inverse of sysctlPathComponents. */
export function sysctlNameOfPath(relativePath: string): string {
  return relativePath
    .split('/')
    .filter((part) => part !== '')
    .map((part) => part.replaceAll('.', '/'))
    .join('.');
}
