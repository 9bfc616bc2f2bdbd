import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type PodEntry, WorkloadResolver, workloadText } from '../../../node-agent/engine/workload.js';
import { fixture } from '../fixtures.js';

// The pods of the recorded fixtures (test/fixtures/cgroup/README.md), as the pod index lists them.
const guaranteed: PodEntry = {
  uid: '289fd9dd-b7aa-49a4-989b-538ea8b836d5',
  namespace: 'default',
  name: 'guaranteed',
  owner: 'Deployment/guaranteed',
  containers: { dae2046af2e96b921dd24c1dabb3d172dcaf26afc5a6689bc4d137de2805d54d: 'main' },
};

describe('WorkloadResolver', () => {
  const resolver = new WorkloadResolver([guaranteed]);

  it('names the pod, its owner and the container of a process in a pod the index knows', () => {
    const workload = resolver.ofCgroupText(fixture('cgroup', 'v1-cgroupfs-containerd-guaranteed.txt'));
    expect(workload).toEqual({
      host: false,
      podUid: guaranteed.uid,
      namespace: 'default',
      pod: 'guaranteed',
      owner: 'Deployment/guaranteed',
      container: 'main',
    });
    expect(workloadText(workload)).toBe('pod default/guaranteed container main (Deployment/guaranteed)');
  });

  it('says sandbox or exited for an ID the pod status does not list, and the UID for a pod the index lacks', () => {
    expect(workloadText(resolver.ofCgroupText(fixture('cgroup', 'v1-cgroupfs-containerd-sandbox.txt')))).toBe(
      'pod default/guaranteed container 7d75c2273221 (sandbox or exited) (Deployment/guaranteed)',
    );
    expect(workloadText(resolver.ofCgroupText(fixture('cgroup', 'v1-cgroupfs-containerd-besteffort.txt')))).toBe(
      'pod afe24ab9-1438-4d01-b942-878cfec907f5 container b913b342fa0a (sandbox or exited)',
    );
  });

  it('labels host processes, and text that is not a cgroup file, as the host', () => {
    expect(resolver.ofCgroupText(fixture('cgroup', 'v1-host-kubelet.txt'))).toEqual({ host: true });
    expect(resolver.ofCgroupText('garbage')).toEqual({ host: true });
    expect(workloadText({ host: true })).toBe('host');
  });

  it('reads /proc/<pid>/cgroup under its proc root, and gives undefined for a process that is gone', async () => {
    const proc = await mkdtemp(join(tmpdir(), 'ksleuth-workload-'));
    try {
      await mkdir(join(proc, '23236'));
      await writeFile(join(proc, '23236', 'cgroup'), fixture('cgroup', 'v1-cgroupfs-containerd-guaranteed.txt'));
      const fromFiles = new WorkloadResolver([guaranteed], proc);
      expect(fromFiles.ofPid(23236)).toMatchObject({ pod: 'guaranteed', container: 'main' });
      expect(fromFiles.ofPid(1)).toBeUndefined();
    } finally {
      await rm(proc, { recursive: true, force: true });
    }
    // This test runs on the host.
    expect(new WorkloadResolver().ofPid(process.pid)).toEqual({ host: true });
  });
});
