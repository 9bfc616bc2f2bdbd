import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { namespaceInode, scanNetworkNamespaces } from '../../../node-agent/engine/netns.js';
import { WorkloadResolver } from '../../../node-agent/engine/workload.js';
import { TcpSampler } from '../../../node-agent/watch/samplers/tcp.js';
import { closeWaitScript, stop, TestNetns } from '../captures/tcp/netns.js';
import { fixture } from '../fixtures.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('the watch’s tcp sampler names the pod of a namespace with a CLOSE_WAIT backlog', () => {
  it('reads a real namespace and names it by its first process’s cgroup', async () => {
    const netns = await TestNetns.create();
    cleanups.push(() => netns.delete());
    let child: ChildProcess | undefined;
    cleanups.push(() => stop(child));
    const started = await netns.start(closeWaitScript(3, 0, 100));
    child = started.child;
    const inode = namespaceInode('/proc', child.pid!)!;
    const first = (await scanNetworkNamespaces()).namespaces.find((n) => n.inode === inode)!;

    // The namespace's process stands for a pod's: its cgroup file is the one recorded in a pod of the real node.
    const proc = await mkdtemp(join(tmpdir(), 'ksleuth-tcp-pods-'));
    cleanups.push(() => rm(proc, { recursive: true, force: true }));
    await mkdir(join(proc, String(first.pid)));
    await writeFile(join(proc, String(first.pid), 'cgroup'), fixture('cgroup', 'v1-cgroupfs-containerd-sandbox.txt'));
    const pod = { uid: '289fd9dd-b7aa-49a4-989b-538ea8b836d5', namespace: 'shop', name: 'web-1', owner: 'Deployment/web', containers: {} };

    const sampler = new TcpSampler('/proc', 1000, 1000, () => new WorkloadResolver([pod], proc));
    await sampler.sample();
    const lines = sampler.context(['tcp.closeWait.withData']);
    expect(lines).toContain(
      `network namespace net:[${inode}] (pod shop/web-1 (Deployment/web); pid ${first.pid} node): 3 sockets in CLOSE_WAIT with 300 B unread`,
    );

    // Without the pod index, a process outside any pod is said to be one.
    const hostSampler = new TcpSampler('/proc', 1000, 1000);
    await hostSampler.sample();
    expect(hostSampler.context(['tcp.closeWait.withData']).find((l) => l.includes(`net:[${inode}]`))).toMatch(/a namespace of a host process, not of a pod/);
  });
});
