import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DesiredSysctl } from '../../../api/v1alpha1/node.js';
import { loadAllowList } from '../../../lib/sysctl/allowlist-load.js';
import { netnsIo, pinNetns } from '../../../node-agent/sysctl/netns-io.js';
import { netnsStatePath, readNetnsState } from '../../../node-agent/sysctl/netns-state.js';
import { holdInPodNamespaces, type PodNetnsTarget, type PodPassResult } from '../../../node-agent/sysctl/pod-netns.js';
import { tempDir } from './temp-dirs.js';

// Real kernel: each "pod" is a process in a network namespace of its own (unshare --net), as a
// pod's sandbox holds its namespace; the test made them and they go with their processes. The
// engine enters each through a descriptor of /proc/<pid>/ns/net; the test's own namespace, the
// host's here, must never change. The tests run in order as one story.
const exec = promisify(execFile);
const key = 'net.ipv4.tcp_fastopen';
const allowList = await loadAllowList();
const sleepers: ChildProcess[] = [];
let stateDir = '';
let hostBefore = '';

interface FakePod {
  target: PodNetnsTarget;
  process?: ChildProcess;
}
const pods = new Map<string, FakePod>();

async function inode(pid: number): Promise<number> {
  return Number(/net:\[(\d+)\]/.exec(await readlink(`/proc/${pid}/ns/net`))![1]);
}

async function startPod(name: string, value: string, declared: Record<string, string> = {}): Promise<void> {
  const child = spawn('unshare', ['--net', 'sleep', '600'], { stdio: 'ignore' });
  sleepers.push(child);
  const host = await inode(process.pid);
  // unshare execs sleep once the namespace is made.
  for (let i = 0; i < 200 && (await inode(child.pid!).catch(() => host)) === host; i++) await sleep(10);
  const ns = await inode(child.pid!);
  expect(ns).not.toBe(host);
  await setIn(child.pid!, value);
  pods.set(name, {
    process: child,
    target: { podUid: `uid-${name}`, namespace: 'shop', name, labels: { app: name }, declared, netns: { inode: ns, pid: child.pid! } },
  });
}

async function setIn(pid: number, value: string): Promise<void> {
  await exec('nsenter', [`--net=/proc/${pid}/ns/net`, 'sysctl', '-qw', `${key}=${value}`]);
}

async function valueIn(name: string): Promise<string> {
  const { stdout } = await exec('nsenter', [`--net=/proc/${pods.get(name)!.process!.pid}/ns/net`, 'sysctl', '-n', key]);
  return stdout.trim();
}

function want(value: string, extra: Partial<DesiredSysctl> = {}): DesiredSysctl {
  return { name: key, value, mitigation: 'tfo-bug', revertPolicy: 'Restore', dryRun: false, ...extra };
}

async function pass(desired: DesiredSysctl[], options: { verify?: number; targets?: PodNetnsTarget[] } = {}): Promise<PodPassResult> {
  return holdInPodNamespaces(desired, {
    allowList,
    stateDir,
    procRoot: '/proc',
    bootId: 'boot-1',
    targets: async () => ({ pods: options.targets ?? [...pods.values()].map((p) => p.target) }),
    verifiedAt: new Map(),
    verifyPerPass: options.verify ?? 0,
  });
}

beforeAll(async () => {
  stateDir = await tempDir('ksleuth-pod-netns-');
  hostBefore = (await readFile(`/proc/sys/net/ipv4/tcp_fastopen`, 'utf8')).trim();
  await startPod('a', '1');
  await startPod('b', '2');
  await startPod('c', '3', { [key]: '3' });
  pods.set('d', { target: { podUid: 'uid-d', namespace: 'shop', name: 'd', labels: { app: 'd' }, declared: {} } });
});

afterAll(async () => {
  for (const child of sleepers) child.kill('SIGKILL');
  expect((await readFile(`/proc/sys/net/ipv4/tcp_fastopen`, 'utf8')).trim()).toBe(hostBefore);
});

describe('net.* sysctls in pods’ network namespaces (real kernel)', { timeout: 60_000 }, () => {
  it('pins a namespace by its descriptor and refuses a pid that is no longer in it', async () => {
    const a = pods.get('a')!.target.netns!;
    const pinned = await pinNetns('/proc', a.pid, a.inode);
    expect('handle' in pinned).toBe(true);
    if (!('handle' in pinned)) return;
    try {
      const [read, missing] = await netnsIo(pinned, [{ name: key }, { name: 'net.core.netdev_max_backlog' }], { procRoot: '/proc' });
      expect(read).toEqual({ name: key, value: '1' });
      expect(missing).toMatchObject({ error: { reason: 'NotFound' } });
    } finally {
      await pinned.handle.close();
    }
    expect(await pinNetns('/proc', a.pid, a.inode + 1)).toMatchObject({ gone: true });
  });

  it('records each original, writes 0 into every pod namespace, and leaves a pod that declares it and the host alone', async () => {
    const result = await pass([want('0')]);
    expect(await valueIn('a')).toBe('0');
    expect(await valueIn('b')).toBe('0');
    expect(await valueIn('c')).toBe('3');
    expect(result.statuses.get(key)).toEqual({
      inScope: 4,
      holding: 2,
      exceptionCount: 2,
      exceptions: [
        expect.objectContaining({ pod: 'shop/c', reason: 'PodDeclares', message: expect.stringContaining(`${key}=3 itself`) }),
        expect.objectContaining({ pod: 'shop/d', reason: 'NotFound' }),
      ],
    });
    expect(result.writes).toBe(2);
    const state = await readNetnsState(stateDir);
    expect([...state.values()].map((e) => [e.pod, e.sysctls[0]!.original, e.sysctls[0]!.applied])).toEqual([
      ['shop/a', '1', true],
      ['shop/b', '2', true],
    ]);
    expect(result.events).toContainEqual(expect.objectContaining({ reason: 'Applied', message: expect.stringContaining('in 2 pod network namespace(s)') }));
  });

  it('writes nothing again on the next pass, as after an agent restart, and reads back only what it verifies', async () => {
    const before = await readFile(netnsStatePath(stateDir), 'utf8');
    const quiet = await pass([want('0')]);
    expect(quiet).toMatchObject({ writes: 0, helpers: 0 });
    expect(quiet.statuses.get(key)).toMatchObject({ inScope: 4, holding: 2 });
    const verified = await pass([want('0')], { verify: 5 });
    expect(verified).toMatchObject({ writes: 0, helpers: 2 });
    expect(await readFile(netnsStatePath(stateDir), 'utf8')).toBe(before);
  });

  it('puts back a value changed inside a pod when it verifies that namespace', async () => {
    await setIn(pods.get('a')!.process!.pid!, '5');
    const result = await pass([want('0')], { verify: 5 });
    expect(await valueIn('a')).toBe('0');
    expect(result.events).toContainEqual(expect.objectContaining({ reason: 'DriftCorrected', message: expect.stringContaining('shop/a (was 5)') }));
    expect([...(await readNetnsState(stateDir)).values()].find((e) => e.pod === 'shop/a')!.sysctls[0]!.driftCount).toBe(1);
  });

  it('restores each namespace’s own original when narrowed away, and applies again when it matches', async () => {
    await pass([want('0', { pods: { namespaces: ['elsewhere'] } })]);
    expect([await valueIn('a'), await valueIn('b'), await valueIn('c')]).toEqual(['1', '2', '3']);
    expect((await readNetnsState(stateDir)).size).toBe(0);
    const narrowed = await pass([want('0', { pods: { podSelector: { matchLabels: { app: 'b' } } } })]);
    expect([await valueIn('a'), await valueIn('b')]).toEqual(['1', '0']);
    expect(narrowed.statuses.get(key)).toEqual({ inScope: 1, holding: 1, exceptionCount: 0 });
  });

  it('forgets a namespace that disappeared while held, without an error', async () => {
    const b = pods.get('b')!;
    const exited = new Promise((resolve) => b.process!.once('exit', resolve));
    b.process!.kill('SIGKILL');
    await exited;
    // The pod index may still list the pod for a moment, with the namespace the scan found before.
    const result = await pass([want('0', { pods: { podSelector: { matchLabels: { app: 'b' } } } })]);
    expect(result.events.filter((e) => e.type === 'Warning')).toEqual([]);
    expect(result.statuses.get(key)?.exceptionCount).toBe(0);
    expect((await readNetnsState(stateDir)).size).toBe(0);
    pods.delete('b');
  });

  it('restores the original when the mitigation is deleted, and a Keep policy leaves the value', async () => {
    await pass([want('0')]);
    expect(await valueIn('a')).toBe('0');
    const released = await pass([]);
    expect(await valueIn('a')).toBe('1');
    expect(released.events).toContainEqual(expect.objectContaining({ reason: 'Reverted', message: `${key} restored to 1 in pod shop/a` }));
    expect((await readNetnsState(stateDir)).size).toBe(0);
    await pass([want('0', { revertPolicy: 'Keep' })]);
    await pass([]);
    expect(await valueIn('a')).toBe('0');
    await setIn(pods.get('a')!.process!.pid!, '1');
  });

  it('writes nothing into a namespace whose original cannot be recorded', async () => {
    const blocker = `${netnsStatePath(stateDir)}.tmp`;
    await mkdir(blocker);
    try {
      const result = await pass([want('0', { pods: { podSelector: { matchLabels: { app: 'a' } } } })]);
      expect(result.writes).toBe(0);
      expect(await valueIn('a')).toBe('1');
      expect(result.statuses.get(key)?.exceptions).toEqual([
        expect.objectContaining({ pod: 'shop/a', reason: 'Failed', message: expect.stringContaining('could not record the original values') }),
      ]);
    } finally {
      await rm(blocker, { recursive: true });
    }
  });

  it('refuses to act while the state file is damaged, naming it', async () => {
    await writeFile(netnsStatePath(stateDir), '{not json');
    const result = await pass([want('0')]);
    expect(result.writes).toBe(0);
    expect(result.events[0]!.message).toContain('sysctl-netns-state.json is not valid JSON');
    expect(await valueIn('a')).toBe('1');
  });
});
