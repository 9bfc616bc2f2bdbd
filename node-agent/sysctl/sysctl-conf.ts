/** One assignment in a sysctl.d(5) file. */
export interface SysctlConfAssignment {
  /** The key in dotted form (slash-separated keys are converted). */
  name: string;
  value: string;
  /** 1-based line number. */
  line: number;
  /** The key contains * or ?, matching every key it fits (systemd-sysctl). */
  glob: boolean;
}

/**
 * Parses a sysctl.d(5) / sysctl.conf(5) file. Pure. Blank lines and lines starting with # or ;
 * are comments; a leading "-" only tells systemd-sysctl to ignore a failure; lines without "="
 * are skipped (systemd-sysctl ignores them too). A key whose first separator is a slash uses
 * slashes between components and dots inside them, so it is converted to the dotted form.
 */
export function parseSysctlConf(text: string): SysctlConfAssignment[] {
  const assignments: SysctlConfAssignment[] = [];
  text.split('\n').forEach((raw, index) => {
    let line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    if (line.startsWith('-')) line = line.slice(1).trimStart();
    const equals = line.indexOf('=');
    if (equals <= 0) return;
    const key = line.slice(0, equals).trim();
    const value = line.slice(equals + 1).trim();
    if (key === '') return;
    const name = dottedKey(key);
    assignments.push({ name, value, line: index + 1, glob: /[*?]/.test(name) });
  });
  return assignments;
}

/** net/ipv4/conf/eth0.1/rp_filter → net.ipv4.conf.eth0/1.rp_filter; dotted keys stay as they are. */
function dottedKey(key: string): string {
  const slash = key.indexOf('/');
  const dot = key.indexOf('.');
  if (slash === -1 || (dot !== -1 && dot < slash)) return key;
  return key.replace(/[./]/g, (c) => (c === '/' ? '.' : '/'));
}

/** Whether a sysctl.d key (possibly a glob with * and ?) names this sysctl. */
export function confKeyMatches(assignment: SysctlConfAssignment, name: string): boolean {
  if (!assignment.glob) return assignment.name === name;
  const pattern = assignment.name
    .replace(/[.+^${}()|[\]\\/-]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${pattern}$`).test(name);
}
