import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cgroup2Mounts, cgroupPathsById } from '../../../node-agent/engine/cgroup-ids.js';

// Lines of /proc/self/mountinfo: the first three from the development VM (cgroup v1 hybrid), the
// last as an agent container sees the host's root bind-mounted at /host (a path with a space, escaped).
const mountinfo = [
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct',
  '912 905 0:38 / /host\\040root/sys/fs/cgroup/unified ro,relatime - cgroup2 cgroup2 rw',
].join('\n');

describe('cgroup2Mounts', () => {
  it('finds the cgroup2 mount points only, unescaped, shortest first', () => {
    expect(cgroup2Mounts(mountinfo)).toEqual(['/sys/fs/cgroup/unified', '/host root/sys/fs/cgroup/unified']);
  });
});

describe('cgroupPathsById', () => {
  // A directory tree stands for a cgroup2 mount: the id of a cgroup is its directory's inode.
  const root = mkdtemp(join(tmpdir(), 'ksleuth-cgroup-ids-'));
  afterAll(async () => rm(await root, { recursive: true, force: true }));

  it('finds the path of each id by the inode of its directory, and leaves unknown ids out', async () => {
    const mount = await root;
    const container = join(mount, 'kubepods', 'besteffort', 'pod1', 'c1');
    await mkdir(container, { recursive: true });
    const ids = new Set([Number((await stat(container)).ino), Number((await stat(mount)).ino), 999_999_999]);
    const paths = await cgroupPathsById(ids, { mountinfo: `1 1 0:1 / ${mount} rw - cgroup2 cgroup2 rw` });
    expect([...paths.values()].sort()).toEqual(['/', '/kubepods/besteffort/pod1/c1']);
  });

  it('looks at nothing when no id is asked for', async () => {
    expect((await cgroupPathsById(new Set(), { mountinfo: '' })).size).toBe(0);
  });
});
