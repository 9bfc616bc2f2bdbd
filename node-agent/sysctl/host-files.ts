import { readdir, readFile, readlink, lstat } from 'node:fs/promises';
import { dirname, isAbsolute, join, posix } from 'node:path';
import { confKeyMatches, parseSysctlConf, type SysctlConfAssignment } from './sysctl-conf.js';

/**
 * The sysctl.d directories in systemd-sysctl's order of precedence: a file name in an earlier
 * directory hides the same name in a later one. procps `sysctl --system` reads the same ones and
 * /etc/sysctl.conf last.
 */
export const sysctlDirectories = ['/etc/sysctl.d', '/run/sysctl.d', '/usr/local/lib/sysctl.d', '/usr/lib/sysctl.d', '/lib/sysctl.d'];
export const sysctlConfFile = '/etc/sysctl.conf';

/** An assignment and the host file (path on the host, without hostRoot) that makes it. */
export interface HostAssignment extends SysctlConfAssignment {
  file: string;
}

export interface HostSysctlFiles {
  /** Every assignment, in the order they are applied at boot: a later one wins. */
  assignments: HostAssignment[];
  /** Files that could not be read, with why (they are skipped). */
  problems: string[];
}

/**
 * Reads the host's sysctl.d files and /etc/sysctl.conf under hostRoot (/ on a node, the host's
 * root mount in a container). Symlinks are resolved inside hostRoot; a link to /dev/null masks.
 */
export async function readHostSysctlFiles(hostRoot: string): Promise<HostSysctlFiles> {
  const problems: string[] = [];
  const byName = new Map<string, string>();
  for (const dir of sysctlDirectories) {
    let names: string[];
    try {
      names = await readdir(join(hostRoot, dir));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`${dir}: ${(error as Error).message}`);
      continue;
    }
    for (const name of names) {
      if (name.endsWith('.conf') && !byName.has(name)) byName.set(name, posix.join(dir, name));
    }
  }
  const files = [...byName.keys()].sort().map((name) => byName.get(name)!);
  files.push(sysctlConfFile);
  const assignments: HostAssignment[] = [];
  for (const file of files) {
    const text = await readHostFile(hostRoot, file).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`${file}: ${(error as Error).message}`);
      return '';
    });
    for (const assignment of parseSysctlConf(text)) assignments.push({ ...assignment, file });
  }
  return { assignments, problems };
}

/** The assignment that sets this sysctl at the next boot, if any host file sets it. */
export function hostAssignmentFor(files: HostSysctlFiles, name: string): HostAssignment | undefined {
  for (let i = files.assignments.length - 1; i >= 0; i--) {
    const assignment = files.assignments[i]!;
    if (confKeyMatches(assignment, name)) return assignment;
  }
  return undefined;
}

async function readHostFile(hostRoot: string, file: string): Promise<string> {
  let path = file;
  for (let hops = 0; hops < 8; hops++) {
    if (path === '/dev/null') return '';
    const stat = await lstat(join(hostRoot, path));
    if (!stat.isSymbolicLink()) return readFile(join(hostRoot, path), 'utf8');
    const target = await readlink(join(hostRoot, path));
    path = isAbsolute(target) ? target : posix.join(dirname(path), target);
  }
  throw new Error('too many levels of symbolic links');
}
