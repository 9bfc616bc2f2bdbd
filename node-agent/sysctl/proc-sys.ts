import { constants, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { sysctlPath } from './names.js';
import { normaliseSysctlValue } from '../../lib/sysctl/value.js';

/**
 * Reads and writes sysctls through procRoot/sys (procRoot is /proc on a node, a temporary
 * directory in unit tests). /proc/sys/net shows the network namespace of the calling process, so
 * net.* keys are read and written in the namespace the agent runs in: the host's, with hostNetwork.
 */

export type SysctlIoFailure = 'NotFound' | 'PermissionDenied' | 'ReadOnly' | 'ValueRejected' | 'IoError';

/** A read or write that failed; reason is a stable CamelCase code, message says what to do. */
export class SysctlIoError extends Error {
  constructor(
    readonly reason: SysctlIoFailure,
    message: string,
  ) {
    super(message);
    this.name = 'SysctlIoError';
  }
}

/** The value of a sysctl, whitespace normalised (tabs between tuple fields become single spaces). */
export async function readSysctl(procRoot: string, name: string): Promise<string> {
  const path = sysctlPath(procRoot, name);
  try {
    // Synchronous on purpose: a /proc/sys read never waits for a disk, and fs.promises.readFile
    // costs ~20x more CPU here (measured: ~360 µs against ~17 µs per read).
    return normaliseSysctlValue(readFileSync(path, 'utf8'));
  } catch (error) {
    throw ioError(error, name, path, 'read');
  }
}

/** Writes a sysctl in one write(2), as sysctl -w does; the kernel parses the whole value at once. */
export async function writeSysctl(procRoot: string, name: string, value: string): Promise<void> {
  const path = sysctlPath(procRoot, name);
  // No O_CREAT: a key this kernel lacks must fail, not appear as a new file under a test procRoot.
  const file = await open(path, constants.O_WRONLY | constants.O_TRUNC).catch((error: unknown) => {
    throw ioError(error, name, path, 'open');
  });
  try {
    await file.write(value);
  } catch (error) {
    throw ioError(error, name, path, 'write', value);
  } finally {
    await file.close();
  }
}

/** The id of the running boot; it changes at every boot. */
export async function readBootId(procRoot: string): Promise<string> {
  return readSysctl(procRoot, 'kernel.random.boot_id');
}

function ioError(error: unknown, name: string, path: string, step: 'read' | 'open' | 'write', value?: string): SysctlIoError {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const detail = error instanceof Error ? error.message : String(error);
  if (step === 'write' && (code === 'EINVAL' || code === 'ENOENT' || code === 'ERANGE' || code === 'EBUSY')) {
    // Once the file is open, ENOENT comes from the kernel's handler: tcp_congestion_control names an unknown algorithm.
    return new SysctlIoError('ValueRejected', `the kernel refused ${name}=${value} (${code}); check that this kernel supports that value`);
  }
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new SysctlIoError(
      'NotFound',
      `${name} does not exist on this node (${path} is missing): the kernel lacks it, or it is a global net.* key that only the host's network namespace has`,
    );
  }
  if (code === 'EROFS') {
    return new SysctlIoError(
      'ReadOnly',
      `cannot ${step} ${name}: ${path} is on a read-only mount; the agent needs /proc/sys mounted read-write (a privileged container)`,
    );
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new SysctlIoError(
      'PermissionDenied',
      `cannot ${step} ${name} (${code}): the agent needs root with CAP_SYS_ADMIN (and CAP_NET_ADMIN for net.*) in the host's namespaces`,
    );
  }
  return new SysctlIoError('IoError', `cannot ${step} ${name} at ${path}: ${detail}`);
}
