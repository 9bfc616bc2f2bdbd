import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A cgroup in the unified (v2) hierarchy named as the kubelet (cgroupfs driver) and containerd
 * name a pod's container: <test>/kubepods/besteffort/pod<uid>/<container id>. A process started
 * in it stands for a container of that pod; bpftrace's `cgroup` shows its id. On a v1 hybrid host
 * the unified hierarchy is /sys/fs/cgroup/unified and has no controllers: membership only.
 */
export class PodCgroup {
  readonly podUid = randomUUID();
  readonly containerId = randomBytes(32).toString('hex');
  readonly dir: string;
  private readonly children: ChildProcess[] = [];

  private constructor(private readonly top: string) {
    this.dir = join(top, 'kubepods', 'besteffort', `pod${this.podUid}`, this.containerId);
  }

  static async create(): Promise<PodCgroup> {
    const unified = existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified';
    const cgroup = new PodCgroup(join(unified, `ksleuth-test-${process.pid}-${randomBytes(3).toString('hex')}`));
    await mkdir(cgroup.dir, { recursive: true });
    return cgroup;
  }

  /** Starts a Node.js script inside the cgroup (the shell joins it, then execs node). */
  start(script: string): ChildProcess {
    const child = spawn('sh', ['-c', `echo $$ > ${this.dir}/cgroup.procs && exec "$0" -e "$1"`, process.execPath, script], { stdio: 'ignore' });
    this.children.push(child);
    return child;
  }

  /** Kills what it started and removes the cgroups, deepest first (rmdir is EBUSY a moment after the last exit). */
  async remove(): Promise<void> {
    for (const child of this.children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const closed = new Promise((resolve) => child.once('close', resolve));
      child.kill('SIGKILL');
      await closed;
    }
    const dirs: string[] = [];
    for (let dir = this.dir; dir.startsWith(this.top); dir = join(dir, '..')) dirs.push(dir);
    for (const dir of dirs) {
      for (let attempt = 1; existsSync(dir); attempt++) {
        const error = await rmdir(dir).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (!error) break;
        if (attempt >= 50) throw error;
        await sleep(100);
      }
    }
  }
}

/**
 * Many kmalloc calls of one call site from one process: each writev of more than 8 (UIO_FASTIOV)
 * buffers allocates its iovec array with kmalloc, 16 KiB for 1024 buffers.
 */
export const writevAllocatorScript = `
  const fs = require('node:fs');
  const fd = fs.openSync('/dev/null', 'w');
  const buffers = Array.from({ length: 1024 }, () => Buffer.alloc(1));
  for (;;) fs.writevSync(fd, buffers);`;
