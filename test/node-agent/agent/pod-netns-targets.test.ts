/**
 * Finding pods' network namespaces on this machine: real namespaces held by real processes in
 * cgroups named as the kubelet names a pod's. /proc is scanned only while a pod's namespace is not
 * yet known; a known one is checked with one readlink per pass.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Pod } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { indexPod } from '../../../node-agent/agent/pod-index.js';
import { findPodNetns, podNetnsCache } from '../../../node-agent/agent/pod-netns-targets.js';
import { PodCgroup } from '../captures/pod-cgroup.js';

const inodeOf = (pid: number | string): number => Number(/net:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/net`))![1]);

/** A pod's sandbox: a process in the pod's cgroup, in a network namespace of its own. */
async function sandbox(cgroup: PodCgroup): Promise<ChildProcess> {
  const child = spawn('sh', ['-c', `echo $$ > ${cgroup.dir}/cgroup.procs && exec unshare --net sleep 600`], { stdio: 'ignore' });
  const host = inodeOf('self');
  for (let i = 0; i < 500 && inodeOf(child.pid!) === host; i++) await sleep(10);
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGKILL');
  await closed;
}

function pod(uid: string, name: string): V1Pod {
  return {
    metadata: { uid, name, namespace: 'shop' },
    spec: { nodeName: 'node-1', containers: [{ name: 'app', image: 'app' }] },
    status: { phase: 'Running', podIP: '10.0.0.1' },
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('finding the network namespaces of pods', () => {
  it('scans /proc until every pod is placed, then checks each known namespace without a scan', async () => {
    const [a, b] = [await PodCgroup.create(), await PodCgroup.create()];
    cleanups.push(
      () => a.remove(),
      () => b.remove(),
    );
    const [sandboxA, firstSandboxB] = [await sandbox(a), await sandbox(b)];
    cleanups.push(
      () => kill(sandboxA),
      () => kill(firstSandboxB),
    );
    const pods = [indexPod(pod(a.podUid, 'a')), indexPod(pod(b.podUid, 'b'))];
    const cache = podNetnsCache();

    const first = await findPodNetns(pods, '/proc', cache);
    expect(cache.scans).toBe(1);
    expect(first.pods.map((p) => [p.name, p.netns?.inode])).toEqual([
      ['a', inodeOf(sandboxA.pid!)],
      ['b', inodeOf(firstSandboxB.pid!)],
    ]);

    const again = await findPodNetns(pods, '/proc', cache);
    expect(cache.scans).toBe(1);
    expect(again.pods).toEqual(first.pods);

    // b's sandbox is recreated: a new namespace, found by the next scan.
    await kill(firstSandboxB);
    const secondSandboxB = await sandbox(b);
    cleanups.push(() => kill(secondSandboxB));
    const recreated = await findPodNetns(pods, '/proc', cache);
    expect(cache.scans).toBe(2);
    expect(recreated.pods.find((p) => p.name === 'b')?.netns).toEqual({ inode: inodeOf(secondSandboxB.pid!), pid: secondSandboxB.pid });
    expect(recreated.pods.find((p) => p.name === 'a')?.netns?.inode).toBe(inodeOf(sandboxA.pid!));
    await findPodNetns(pods, '/proc', cache);
    expect(cache.scans).toBe(2);
  });

  it('scans again while a pod has no process on the node, and forgets pods that went away', async () => {
    const a = await PodCgroup.create();
    cleanups.push(() => a.remove());
    const sandboxA = await sandbox(a);
    cleanups.push(() => kill(sandboxA));
    const cache = podNetnsCache();
    const withGhost = [indexPod(pod(a.podUid, 'a')), indexPod(pod('00000000-0000-4000-8000-00000000dead', 'ghost'))];
    await findPodNetns(withGhost, '/proc', cache);
    const second = await findPodNetns(withGhost, '/proc', cache);
    expect(cache.scans).toBe(2);
    expect(second.pods.find((p) => p.name === 'ghost')?.netns).toBeUndefined();
    await findPodNetns([withGhost[0]!], '/proc', cache);
    expect(cache.scans).toBe(2);
    await findPodNetns([], '/proc', cache);
    expect(cache.byPod.size).toBe(0);
  });
});
