import type { KernelRelease } from './release.js';

/** /proc/version (the same text as `uname -a` minus the host name), read. */
export interface ProcVersion {
  release: string;
  /** Who built it: "debian-kernel@lists.debian.org", "buildd@lcy02-amd64-045". */
  builtBy?: string;
  /** The compiler, as the kernel recorded it. */
  compiler?: string;
  /** Everything from "#": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)". */
  build?: string;
  /** Debian's package version, which carries the upstream version its ABI name hides: "6.1.76-1". */
  debianPackage?: string;
  /** Ubuntu's upload number: "#101-Ubuntu" is package 5.15.0-91.101. */
  ubuntuUpload?: number;
}

/** Reads the first line of /proc/version; undefined when it is not one. */
export function parseProcVersion(text: string): ProcVersion | undefined {
  const line = text.split('\n')[0]?.trim() ?? '';
  const m = /^Linux version (\S+)(?: \(([^)\s]+)\))?(?: \((.*)\))? (#.*)$/.exec(line);
  if (!m) {
    const bare = /^Linux version (\S+)/.exec(line);
    return bare ? { release: bare[1]! } : undefined;
  }
  const build = m[4]!;
  const debian = /\bDebian (\d+\.\d+(?:\.\d+)?-[\w.~+]+)/.exec(build);
  const ubuntu = /^#(\d+)(?:~[\w.]+)?-Ubuntu\b/.exec(build);
  return {
    release: m[1]!,
    ...(m[2] ? { builtBy: m[2] } : {}),
    ...(m[3] ? { compiler: m[3] } : {}),
    build,
    ...(debian ? { debianPackage: debian[1]! } : {}),
    ...(ubuntu ? { ubuntuUpload: Number(ubuntu[1]) } : {}),
  };
}

/**
 * A release made precise with what /proc/version adds: a Debian kernel's upstream patch level
 * (from its package version) and an Ubuntu kernel's upload number. The line and its ordering are
 * unchanged.
 */
export function refineRelease(release: KernelRelease, procVersion: ProcVersion | undefined): KernelRelease {
  if (!procVersion || procVersion.release !== release.text) return release;
  if (release.family === 'debian' && procVersion.debianPackage) {
    const m = /^(\d+)\.(\d+)\.(\d+)/.exec(procVersion.debianPackage);
    if (m && Number(m[1]) === release.upstream.major && Number(m[2]) === release.upstream.minor) {
      return { ...release, upstream: { ...release.upstream, patch: Number(m[3]) } };
    }
  }
  if (release.family === 'ubuntu' && procVersion.ubuntuUpload !== undefined && release.build.length === 1) {
    return { ...release, build: [...release.build, procVersion.ubuntuUpload] };
  }
  return release;
}

/** /etc/os-release: KEY=value lines, values unquoted. */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    fields[m[1]!] = m[2]!.replace(/^"(.*)"$|^'(.*)'$/, '$1$2').replace(/\\(["\\$`])/g, '$1');
  }
  return fields;
}
