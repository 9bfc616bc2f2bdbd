import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { KernelMitigation, KernelNode } from '../../api/v1alpha1/resources.js';
import { isNotFound } from '../../lib/kube/errors.js';
import { core, ksleuth } from '../../lib/kube/resources.js';
import { namespace as chartNamespace, until } from '../chart/chart.js';
import { podProcesses, readyAgent, useKsleuthRelease, type Pod } from '../helpers/real-node.js';

// A net.* KernelMitigation on the real node reaches the pods' own network namespaces: read with
// kubectl exec inside each pod, as a user would check it. The tests run in order as one story.
const run = promisify(execFile);
const release = useKsleuthRelease();
const key = 'net.ipv4.tcp_fastopen';
const ns = 'tfo';
/** The agent's pod state file: the chart's agent.stateDir (/var/lib/ksleuth), the node's own directory for it. */
const netnsState = () => join(release().node.stateDir, 'ksleuth', 'sysctl-netns-state.json');
const agentImage = 'ghcr.io/ksleuth/ksleuth-agent:0.1.0';

function podYaml(name: string, declares?: string): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}, labels: {app: ${name}}}
spec:
  terminationGracePeriodSeconds: 0
  ${declares ? `securityContext: {sysctls: [{name: ${key}, value: "${declares}"}]}` : ''}
  containers:
    - name: main
      image: ${agentImage}
      imagePullPolicy: Never
      command: [sleep, infinity]
`;
}

async function getPod(name: string): Promise<Pod & { metadata: { uid: string } }> {
  return release().cluster.client().get(core.pods(ns), name);
}

async function startPod(name: string, declares?: string): Promise<void> {
  await release().cluster.kubectl(['apply', '-f', '-'], { input: podYaml(name, declares) });
  await until(`pod ${name} to run`, async () => (await getPod(name)).status?.phase === 'Running', 120_000);
}

/** The value inside the pod, through kubectl exec. */
async function inPod(name: string): Promise<string> {
  return (await release().cluster.kubectl(['exec', '-n', ns, name, '--', 'cat', `/proc/sys/${key.replaceAll('.', '/')}`])).stdout.trim();
}

/** The value in the pod's namespace read from the host (fast, for timing). */
async function fromHost(uid: string): Promise<string | undefined> {
  const pid = podProcesses(uid).find((p) => p.comm === 'sleep')?.pid;
  if (!pid) return undefined;
  return (await run('nsenter', [`--net=/proc/${pid}/ns/net`, 'cat', `/proc/sys/${key.replaceAll('.', '/')}`])).stdout.trim();
}

async function setFromHost(uid: string, value: string): Promise<void> {
  const pid = podProcesses(uid).find((p) => p.comm === 'sleep')!.pid;
  await run('nsenter', [`--net=/proc/${pid}/ns/net`, 'sysctl', '-qw', `${key}=${value}`]);
}

async function mitigation(): Promise<KernelMitigation> {
  return release().cluster.client().get<KernelMitigation>(ksleuth('KernelMitigation'), 'tfo');
}

async function podReport() {
  const kn = await release().cluster.client().get<KernelNode>(ksleuth('KernelNode'), release().node.name);
  return kn.status?.sysctls?.find((s) => s.name === key)?.pods;
}

describe('a net.* KernelMitigation inside pods on the real node', () => {
  const uids = new Map<string, string>();

  it('writes 0 into every running pod’s namespace, records each original, and leaves a pod that declares the sysctl alone', async () => {
    const { cluster } = release();
    await cluster.kubectl(['create', 'namespace', ns]);
    await Promise.all([startPod('early'), startPod('declares', '2'), startPod('doomed')]);
    for (const name of ['early', 'declares', 'doomed']) uids.set(name, (await getPod(name)).metadata.uid);
    // A value of its own, so that "restored exactly" is not the kernel default by chance.
    await setFromHost(uids.get('early')!, '3');
    expect(await inPod('early')).toBe('3');
    await cluster.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: ksleuth.io/v1alpha1
kind: KernelMitigation
metadata: {name: tfo}
spec:
  sysctls: [{name: ${key}, value: "0"}]
  pods: {namespaces: [${ns}]}
`,
    });
    await until('the pods to hold the mitigation', async () => (await mitigation()).status?.podCoverage === '2/3', 120_000);
    expect(await inPod('early')).toBe('0');
    expect(await inPod('doomed')).toBe('0');
    expect(await inPod('declares')).toBe('2');
    expect((await mitigation()).status?.pods?.examples).toEqual([
      {
        node: release().node.name,
        sysctl: key,
        pod: `${ns}/declares`,
        reason: 'PodDeclares',
        message: `sets ${key}=2 itself (securityContext.sysctls) and keeps it`,
      },
    ]);
    const state = JSON.parse(await readFile(netnsState(), 'utf8')) as { namespaces: { pod: string; sysctls: { original: string }[] }[] };
    expect(Object.fromEntries(state.namespaces.map((e) => [e.pod, e.sysctls[0]!.original]))).toEqual({ [`${ns}/early`]: '3', [`${ns}/doomed`]: '1' });
    const { stdout: columns } = await cluster.kubectl(['get', 'kmit', 'tfo']);
    expect(columns).toMatch(/^NAME\s+APPLIED\s+PODS\s/m);
    expect(columns).toMatch(/^tfo\s+1\/1\s+2\/3\s/m);
  });

  it('reaches a pod started afterwards within seconds of it running', async () => {
    const { cluster } = release();
    const created = Date.now();
    await cluster.kubectl(['apply', '-f', '-'], { input: podYaml('late') });
    let running = 0;
    let uid = '';
    let held = 0;
    while (Date.now() - created < 120_000 && held === 0) {
      const pod = await getPod('late').catch(() => undefined);
      if (!running && pod?.status?.phase === 'Running') running = Date.now();
      uid ||= pod?.metadata.uid ?? '';
      if (uid && (await fromHost(uid).catch(() => undefined)) === '0') held = Date.now();
      else await sleep(50);
    }
    expect(held, 'the late pod holds 0').toBeGreaterThan(0);
    uids.set('late', uid);
    console.log(
      `pod-mitigations: late pod created → holding ${held - created} ms; first seen Running → holding ${running ? held - running : 'n/a'} ms (polled every ~50 ms)`,
    );
    expect(await inPod('late')).toBe('0');
    await until('the status to count it', async () => (await mitigation()).status?.podCoverage === '3/4', 60_000);
  });

  it('leaves no error behind when a pod is deleted while the mitigation is held', async () => {
    const { cluster } = release();
    await cluster.kubectl(['delete', 'pod', '-n', ns, 'doomed', '--wait', '--timeout=120s']);
    await until('the status to drop the deleted pod', async () => (await podReport())?.inScope === 3, 60_000);
    const report = await podReport();
    expect(report).toMatchObject({ inScope: 3, holding: 2, exceptionCount: 1 });
    expect(report?.exceptions?.map((e) => e.reason)).toEqual(['PodDeclares']);
    const state = JSON.parse(await readFile(netnsState(), 'utf8')) as { namespaces: { pod: string }[] };
    expect(state.namespaces.map((e) => e.pod).sort()).toEqual([`${ns}/early`, `${ns}/late`]);
    const { stdout: events } = await cluster.kubectl([
      'get',
      'events',
      '-n',
      chartNamespace,
      '--field-selector',
      'type=Warning',
      '-o',
      'jsonpath={.items[*].message}',
    ]);
    expect(events).not.toContain('doomed');
    const { stdout: node } = await cluster.kubectl([
      'get',
      'events',
      '-A',
      '--field-selector',
      `involvedObject.kind=KernelNode,type=Warning`,
      '-o',
      'jsonpath={.items[*].message}',
    ]);
    expect(node).not.toContain('doomed');
  });

  it('changes nothing in any pod when the agent restarts', async () => {
    const { cluster } = release();
    const before = await stat(netnsState());
    const samples = new Set<string>();
    let done = false;
    const sampling = (async () => {
      while (!done) {
        samples.add(`${await fromHost(uids.get('early')!)} ${await fromHost(uids.get('late')!)} ${await fromHost(uids.get('declares')!)}`);
        await sleep(100);
      }
    })();
    const restarted = Date.now();
    const old = await readyAgent(cluster);
    await cluster.kubectl(['rollout', 'restart', 'daemonset/ksleuth-agent', '-n', chartNamespace]);
    await cluster.kubectl(['rollout', 'status', 'daemonset/ksleuth-agent', '-n', chartNamespace, '--timeout=180s']);
    expect((await readyAgent(cluster)).metadata.uid).not.toBe(old.metadata.uid);
    await until(
      'the new agent to report the pods held',
      async () => {
        const kn = await cluster.client().get<KernelNode>(ksleuth('KernelNode'), release().node.name);
        return Date.parse(kn.status?.heartbeatTime ?? '') > restarted && (await podReport())?.holding === 2;
      },
      90_000,
    );
    // A drift pass of the new agent (agent.driftCheckSeconds, 30) has read some of them back by now.
    await sleep(5_000);
    done = true;
    await sampling;
    expect([...samples]).toEqual(['0 0 2']);
    expect((await stat(netnsState())).mtimeMs).toBe(before.mtimeMs);
  });

  it('restores each pod’s own original value exactly when the mitigation is deleted', async () => {
    const { cluster } = release();
    await cluster.kubectl(['delete', 'kernelmitigation', 'tfo', '--wait', '--timeout=120s']);
    await until('the mitigation to be gone', async () => mitigation().then(() => false, isNotFound), 60_000);
    expect(await inPod('early')).toBe('3');
    expect(await inPod('late')).toBe('1');
    expect(await inPod('declares')).toBe('2');
    const state = JSON.parse(await readFile(netnsState(), 'utf8')) as { namespaces: unknown[] };
    expect(state.namespaces).toEqual([]);
    await cluster.kubectl(['delete', 'namespace', ns, '--wait=false']);
  });
});
