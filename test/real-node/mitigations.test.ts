import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { KernelMitigation, KernelNode } from '../../api/v1alpha1/resources.js';
import { isNotFound } from '../../lib/kube/errors.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { nodeNetns } from '../harness/node-host.js';
import { namespace, until } from '../chart/chart.js';
import { readyAgent, useKsleuthRelease } from '../helpers/real-node.js';

const run = promisify(execFile);
const release = useKsleuthRelease();
const keepalive = 'net.ipv4.tcp_keepalive_time';

/** A sysctl as the node sees it: net.* sysctls are its network namespace's (the agent uses hostNetwork). */
async function nodeSysctl(key: string): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', nodeNetns, 'sysctl', '-n', key]);
  return stdout.trim();
}

async function setNodeSysctl(key: string, value: string): Promise<void> {
  await run('ip', ['netns', 'exec', nodeNetns, 'sysctl', '-qw', `${key}=${value}`]);
}

async function hostSysctl(key: string): Promise<string> {
  return (await readFile(`/proc/sys/${key.replace(/\./g, '/')}`, 'utf8')).trim();
}

async function mitigation(name: string): Promise<KernelMitigation> {
  return release().cluster.client().get<KernelMitigation>(ksleuth('KernelMitigation'), name);
}

async function heldOnNode(key: string) {
  const { cluster, node } = release();
  const kn = await cluster.client().get<KernelNode>(ksleuth('KernelNode'), node.name);
  return kn.status?.sysctls?.find((s) => s.name === key);
}

describe('a KernelMitigation on the real node', () => {
  let original = '';

  it('is written by the agent in its container through the host’s /proc, read back and held against drift', async () => {
    const { cluster } = release();
    original = await nodeSysctl(keepalive);
    const hostBefore = await hostSysctl(keepalive);
    const value = original === '600' ? '660' : '600';
    await cluster.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: ksleuth.io/v1alpha1
kind: KernelMitigation
metadata: {name: keepalive}
spec:
  sysctls: [{name: ${keepalive}, value: "${value}"}]
`,
    });
    await until(
      'the mitigation to be applied',
      async () => (await mitigation('keepalive')).status?.conditions?.some((c) => c.type === 'Applied' && c.status === 'True') === true,
      120_000,
    );
    expect(await nodeSysctl(keepalive)).toBe(value);
    // The node's own network namespace, not the machine's.
    expect(await hostSysctl(keepalive)).toBe(hostBefore);
    expect(await heldOnNode(keepalive)).toMatchObject({ state: 'Applied', desired: value, current: value, original, mitigation: 'keepalive' });
    // Changed behind the agent's back: put back at the next drift check (agent.driftCheckSeconds, 30).
    await setNodeSysctl(keepalive, String(Number(value) + 1));
    await until(
      'the drift to be corrected',
      async () => (await nodeSysctl(keepalive)) === value && ((await heldOnNode(keepalive))?.driftCount ?? 0) >= 1,
      90_000,
    );
  });

  it('stays held through a rolling update of the agent DaemonSet', async () => {
    const { cluster } = release();
    const held = (await heldOnNode(keepalive))!.desired;
    const before = await readyAgent(cluster);
    const samples = new Set<string>();
    let updated = false;
    const sampling = (async () => {
      while (!updated) {
        samples.add(await nodeSysctl(keepalive));
        await sleep(100);
      }
    })();
    const restarted = Date.now();
    await cluster.kubectl(['rollout', 'restart', 'daemonset/ksleuth-agent', '-n', namespace]);
    await cluster.kubectl(['rollout', 'status', 'daemonset/ksleuth-agent', '-n', namespace, '--timeout=180s']);
    const after = await readyAgent(cluster);
    // The new agent has taken over the held sysctl from the state directory before sampling stops.
    await until(
      'the new agent to report the sysctl held',
      async () => {
        const kn = await cluster.client().get<KernelNode>(ksleuth('KernelNode'), release().node.name);
        const heartbeat = Date.parse(kn.status?.heartbeatTime ?? '');
        return heartbeat > restarted && kn.status?.sysctls?.find((s) => s.name === keepalive)?.state === 'Applied';
      },
      90_000,
    );
    updated = true;
    await sampling;
    expect(after.metadata.uid).not.toBe(before.metadata.uid);
    expect([...samples]).toEqual([held]);
    expect(await heldOnNode(keepalive)).toMatchObject({ state: 'Applied', current: held, original });
  });

  it('is reverted to the original value when deleted', async () => {
    const { cluster } = release();
    await cluster.kubectl(['delete', 'kernelmitigation', 'keepalive', '--wait', '--timeout=120s']);
    await until('the mitigation to be gone', async () => mitigation('keepalive').then(() => false, isNotFound), 60_000);
    expect(await nodeSysctl(keepalive)).toBe(original);
  });
});
