import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** What the kernel killed. */
export interface OomKill {
  pid: number;
  /** The task name the kernel prints (the process title set before it allocates). */
  comm: string;
  /** When the killed process was seen to exit (ms since the epoch). */
  at: number;
}

const v1 = '/sys/fs/cgroup/memory';

/**
 * Causes a real OOM kill inside a memory cgroup of its own: a child cgroup with a small limit
 * (cgroup v1 here, v2 where the machine has it) and a Node.js process in it that allocates until
 * the kernel kills it ("Memory cgroup out of memory: Killed process N (comm) ..."). The cgroup is
 * removed afterwards; nothing else on the machine is touched.
 */
export async function oomKillInCgroup(comm = 'ksleuth-leaker', limitBytes = 96 * 1024 * 1024): Promise<OomKill> {
  const unified = existsSync('/sys/fs/cgroup/cgroup.controllers') && (await readFile('/sys/fs/cgroup/cgroup.controllers', 'utf8')).includes('memory');
  const dir = unified ? `/sys/fs/cgroup/ksleuth-oom-${randomBytes(4).toString('hex')}` : `${v1}/ksleuth-oom-${randomBytes(4).toString('hex')}`;
  await mkdir(dir);
  try {
    if (unified) {
      await writeFile(`${dir}/memory.max`, String(limitBytes));
      await writeFile(`${dir}/memory.swap.max`, '0').catch(() => undefined);
    } else {
      await writeFile(`${dir}/memory.limit_in_bytes`, String(limitBytes));
      await writeFile(`${dir}/memory.memsw.limit_in_bytes`, String(limitBytes)).catch(() => undefined);
    }
    const script = `process.title = ${JSON.stringify(comm)}; const held = []; for (;;) held.push(Buffer.alloc(1 << 20, 1));`;
    const child = spawn('sh', ['-c', `echo $$ > ${dir}/cgroup.procs && exec "$0" -e "$1"`, process.execPath, script], { stdio: 'ignore' });
    const signal = await new Promise<NodeJS.Signals | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (_code, sig) => resolve(sig));
    });
    const at = Date.now();
    if (signal !== 'SIGKILL') throw new Error(`the allocating process ended with ${signal ?? 'an exit'} instead of an OOM kill`);
    return { pid: child.pid!, comm, at };
  } finally {
    await removeCgroup(dir);
  }
}

/** rmdir of a cgroup fails with EBUSY for a moment after its last process exited. */
async function removeCgroup(dir: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const error = await rmdir(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!error) return;
    if (attempt >= 50) throw error;
    await sleep(100);
  }
}
