import { spawn } from 'node:child_process';
import { open, type FileHandle } from 'node:fs/promises';
import { normaliseSysctlValue } from '../../lib/sysctl/value.js';
import { sysctlPath } from './names.js';
import { SysctlIoError } from './proc-sys.js';

/**
 * Reads and writes sysctls inside another network namespace, such as a pod's. /proc/sys/net shows
 * the namespace of the process that opens the file, so the agent never changes its own namespace
 * (its event loop, sockets and the host's values stay where they are): it pins the namespace by
 * opening /proc/<pid>/ns/net, and a short-lived helper `nsenter --net=/proc/self/fd/3 sh -c ...`
 * enters it through that descriptor and does the reads and writes. The descriptor keeps the very
 * namespace that was found alive and named, so a pid that exits and is reused in between cannot
 * point the helper at another one. setns(2) needs CAP_SYS_ADMIN; the writes CAP_NET_ADMIN.
 */

/** A network namespace held open by a descriptor, as found through one of its processes. */
export interface PinnedNetns {
  inode: number;
  handle: FileHandle;
}

/** Why a namespace could not be pinned. */
export type PinFailure = { gone: true; message: string } | { gone: false; message: string };

/**
 * Opens /proc/<pid>/ns/net and checks that it is still the namespace with this inode. A process
 * that exited (or a pid reused by a process elsewhere) gives gone: the namespace to act on is no
 * longer reachable through it.
 */
export async function pinNetns(procRoot: string, pid: number, inode: number): Promise<PinnedNetns | PinFailure> {
  let handle: FileHandle;
  try {
    handle = await open(`${procRoot}/${pid}/ns/net`, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return { gone: true, message: `process ${pid} exited` };
    return { gone: false, message: `cannot open ${procRoot}/${pid}/ns/net (${code}): the agent needs CAP_SYS_PTRACE and hostPID to reach pods' namespaces` };
  }
  const stat = await handle.stat();
  if (stat.ino !== inode) {
    await handle.close();
    return { gone: true, message: `process ${pid} is no longer in network namespace ${inode}` };
  }
  return { inode, handle };
}

/** One read, or a write followed by a read back. */
export interface NetnsOp {
  name: string;
  /** Write this value first (in one write(2)), then read back. */
  write?: string;
}

/** A read's value (normalised), or why the read or the write failed. */
export type NetnsOpResult = { name: string; value: string } | { name: string; error: SysctlIoError };

export interface NetnsIoOptions {
  /** The /proc whose sys/ the helper opens: a writable host /proc (/host-proc in the chart). */
  procRoot: string;
  /** The nsenter binary. */
  nsenter?: string;
  /** The helper is killed after this long. Default 10 s. */
  timeoutMs?: number;
}

/**
 * Inside the namespace: for each (path, mode, value) triple, print one line. `$(cat)` rather than
 * the shell's read: dash reads one byte at a time, and a sysctl handler answers a read at an
 * offset with end of file, so only the first character would come back.
 */
const helperScript = `
while [ $# -ge 3 ]; do
  p=$1; m=$2; v=$3; shift 3
  if [ ! -e "$p" ]; then echo missing; continue; fi
  if [ "$m" = w ]; then
    if [ ! -w "$p" ]; then echo readonly; continue; fi
    if ! { printf '%s' "$v" > "$p"; } 2>/dev/null; then echo rejected; continue; fi
  fi
  if x=$(cat "$p" 2>/dev/null); then echo "ok $x"; else echo unreadable; fi
done
`;

/**
 * Runs the ops in the pinned namespace in one helper process, in order. A failure of the helper
 * itself (nsenter refused, timeout) fails every op with its message.
 */
export async function netnsIo(netns: PinnedNetns, ops: readonly NetnsOp[], options: NetnsIoOptions): Promise<NetnsOpResult[]> {
  if (ops.length === 0) return [];
  const args = ops.flatMap((op) => [sysctlPath(options.procRoot, op.name), op.write === undefined ? 'r' : 'w', op.write ?? '']);
  let lines: string[];
  try {
    lines = await runHelper(netns, args, options);
  } catch (error) {
    const failure = new SysctlIoError('IoError', (error as Error).message);
    return ops.map((op) => ({ name: op.name, error: failure }));
  }
  return ops.map((op, i) => result(op, lines[i], netns.inode));
}

function result(op: NetnsOp, line: string | undefined, inode: number): NetnsOpResult {
  const where = `network namespace ${inode}`;
  if (line?.startsWith('ok ')) return { name: op.name, value: normaliseSysctlValue(line.slice(3)) };
  const error =
    line === 'missing'
      ? new SysctlIoError('NotFound', `${op.name} does not exist in ${where}: the kernel lacks it, or it is a global key only the host's namespace has`)
      : line === 'readonly'
        ? new SysctlIoError(
            'ReadOnly',
            `cannot write ${op.name} in ${where}: /proc/sys is not writable for the agent (it needs the host's /proc mounted read-write)`,
          )
        : line === 'rejected'
          ? new SysctlIoError('ValueRejected', `the kernel refused ${op.name}=${op.write} in ${where}; check that this kernel supports that value`)
          : line === 'unreadable'
            ? new SysctlIoError('PermissionDenied', `cannot read ${op.name} in ${where}`)
            : new SysctlIoError('IoError', `the helper in ${where} gave no answer for ${op.name}`);
  return { name: op.name, error };
}

function runHelper(netns: PinnedNetns, args: string[], options: NetnsIoOptions): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.nsenter ?? 'nsenter', ['--net=/proc/self/fd/3', '--', 'sh', '-c', helperScript, 'sh', ...args], {
      stdio: ['ignore', 'pipe', 'pipe', netns.handle.fd],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < 2048) stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 10_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start nsenter to enter network namespace ${netns.inode}: ${error.message}; the agent image needs util-linux`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout.split('\n'));
      else
        reject(
          new Error(
            `entering network namespace ${netns.inode} failed (${signal ? `killed by ${signal}` : `exit ${code}`}): ${stderr.trim() || 'no message'}; setns needs CAP_SYS_ADMIN`,
          ),
        );
    });
  });
}
