import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelMitigation, KernelNode } from '../../api/v1alpha1/resources.js';
import { isNotFound } from '../../lib/kube/errors.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { projectRoot } from '../../lib/paths.js';
import { useKsleuth } from '../helpers/ksleuth.js';

const run = promisify(execFile);

// node-1 and node-2 are the ingress pool; node-3 is a database node.
const system = useKsleuth({ agents: 3, nodeLabels: (i) => ({ pool: i < 2 ? 'ingress' : 'database' }) });

async function sysctl(node: string, key: string): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', system().agent(node).host.netns, 'sysctl', '-n', key]);
  return stdout.trim().replace(/\s+/g, ' ');
}

async function setSysctl(node: string, key: string, value: string): Promise<void> {
  await run('ip', ['netns', 'exec', system().agent(node).host.netns, 'sysctl', '-qw', `${key}=${value}`]);
}

function apply(yaml: string): Promise<unknown> {
  return system().cluster.kubectl(['apply', '-f', '-'], { input: yaml });
}

async function mitigation(name: string): Promise<KernelMitigation> {
  return system().client.get<KernelMitigation>(ksleuth('KernelMitigation'), name);
}

async function kernelNode(name: string): Promise<KernelNode> {
  return system().client.get<KernelNode>(ksleuth('KernelNode'), name);
}

function condition(m: KernelMitigation, type: string) {
  return m.status?.conditions?.find((c) => c.type === type);
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  await system().waitFor(what, check, timeoutMs);
}

async function untilApplied(name: string): Promise<void> {
  await until(`${name} to be applied`, async () => condition(await mitigation(name), 'Applied')?.status === 'True');
}

async function deleteMitigation(name: string): Promise<void> {
  await system().cluster.kubectl(['delete', 'kmit', name, '--wait=false']);
  await until(`${name} to be gone`, async () =>
    mitigation(name).then(
      () => false,
      (e: unknown) => isNotFound(e),
    ),
  );
}

const fastopen = 'net.ipv4.tcp_fastopen';

describe('KernelMitigations end to end', () => {
  beforeAll(async () => {
    // Give node-2 a distinct original value, so restoring "exactly" is visible.
    await setSysctl('node-2', fastopen, '3');
  });

  it('sets net.ipv4.tcp_fastopen=0 on the selected nodes only and restores each original exactly when deleted', async () => {
    const originals = { 'node-1': await sysctl('node-1', fastopen), 'node-2': await sysctl('node-2', fastopen), 'node-3': await sysctl('node-3', fastopen) };
    expect(originals['node-2']).toBe('3');
    await apply(`apiVersion: ksleuth.io/v1alpha1
kind: KernelMitigation
metadata: {name: tfo-off}
spec:
  sysctls: [{name: ${fastopen}, value: "0"}]
  nodeSelector: {matchLabels: {pool: ingress}}
`);
    await untilApplied('tfo-off');
    expect(await sysctl('node-1', fastopen)).toBe('0');
    expect(await sysctl('node-2', fastopen)).toBe('0');
    expect(await sysctl('node-3', fastopen)).toBe(originals['node-3']);
    const m = await mitigation('tfo-off');
    expect(m.status?.nodes).toMatchObject({ matched: 2, applied: 2, pending: 0, failed: 0 });
    expect(m.status?.progress).toBe('2/2');
    expect(m.metadata.finalizers).toContain('ksleuth.io/revert');
    const status = (await kernelNode('node-2')).status?.sysctls?.find((s) => s.name === fastopen);
    expect(status).toMatchObject({ state: 'Applied', desired: '0', current: '0', original: '3', mitigation: 'tfo-off' });
    const { stdout } = await system().cluster.kubectl(['get', 'kmit', 'tfo-off']);
    // PODS: no pod of these simulated nodes has a network namespace of its own in scope.
    expect(stdout).toMatch(/tfo-off\s+2\/2\s+0\/0\s+2\s+0\s+0\s+True\s+False/);

    await deleteMitigation('tfo-off');
    expect(await sysctl('node-1', fastopen)).toBe(originals['node-1']);
    expect(await sysctl('node-2', fastopen)).toBe('3');
    expect(await sysctl('node-3', fastopen)).toBe(originals['node-3']);
  });

  it('reports a simulated node’s pod as NotFound, with no namespace to write, and stays Ready', async () => {
    await system().cluster.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: v1
kind: Pod
metadata: {name: simulated, namespace: default}
spec:
  nodeName: node-1
  containers: [{name: main, image: example.com/none:1}]
`,
    });
    await apply(`apiVersion: ksleuth.io/v1alpha1
kind: KernelMitigation
metadata: {name: tfo-sim}
spec:
  sysctls: [{name: ${fastopen}, value: "0"}]
  nodeSelector: {matchLabels: {pool: ingress}}
  pods: {namespaces: [default]}
`);
    await until('the pod to be reported', async () => (await mitigation('tfo-sim')).status?.podCoverage === '0/1');
    const m = await mitigation('tfo-sim');
    expect(m.status?.pods?.examples).toEqual([expect.objectContaining({ node: 'node-1', pod: 'default/simulated', reason: 'NotFound' })]);
    expect(condition(m, 'Ready')?.status).toBe('True');
    expect(await sysctl('node-1', fastopen)).toBe('0');
    await deleteMitigation('tfo-sim');
    await system().cluster.kubectl(['delete', 'pod', 'simulated', '-n', 'default', '--wait=false']);
  });

  it('puts back a value changed behind the agent and reports the drift', async () => {
    await apply(`apiVersion: ksleuth.io/v1alpha1
kind: KernelMitigation
metadata: {name: drift-guard}
spec:
  sysctls: [{name: net.ipv4.tcp_keepalive_time, value: "600"}]
  nodeSelector: {matchLabels: {pool: database}}
`);
    await untilApplied('drift-guard');
    await setSysctl('node-3', 'net.ipv4.tcp_keepalive_time', '7000');
    await until('the drift to be corrected and reported', async () => {
      const s = (await kernelNode('node-3')).status?.sysctls?.find((x) => x.name === 'net.ipv4.tcp_keepalive_time');
      return (s?.driftCount ?? 0) >= 1 && s?.current === '600';
    });
    expect(await sysctl('node-3', 'net.ipv4.tcp_keepalive_time')).toBe('600');
    await until('the mitigation to count the drifted node', async () => (await mitigation('drift-guard')).status?.nodes?.drifted === 1);
    const { stdout } = await system().cluster.kubectl(['get', 'events', '-n', 'default', '--field-selector', 'involvedObject.name=node-3']);
    expect(stdout).toMatch(/DriftCorrected/);
    await deleteMitigation('drift-guard');
  });

  it('reports two conflicting mitigations on both, and the node value does not flap', async () => {
    const original = await sysctl('node-1', 'net.ipv4.tcp_fin_timeout');
    // Whichever of the two the operator saw first may already hold the node; after that, nothing moves.
    await apply(`apiVersion: ksleuth.io/v1alpha1
kind: KernelMitigation
metadata: {name: fin-short}
spec:
  sysctls: [{name: net.ipv4.tcp_fin_timeout, value: "15"}]
  nodeSelector: {matchLabels: {pool: ingress}}
---
apiVersion: ksleuth.io/v1alpha1
kind: KernelMitigation
metadata: {name: fin-long}
spec:
  sysctls: [{name: net.ipv4.tcp_fin_timeout, value: "90"}]
  nodeSelector: {matchLabels: {pool: ingress}}
`);
    await until(
      'both to report the conflict',
      async () =>
        condition(await mitigation('fin-short'), 'Conflict')?.status === 'True' && condition(await mitigation('fin-long'), 'Conflict')?.status === 'True',
    );
    const short = await mitigation('fin-short');
    expect(condition(short, 'Conflict')?.message).toMatch(/fin-long sets net\.ipv4\.tcp_fin_timeout=90 \(this sets 15\) at equal priority on 2 nodes/);
    expect(short.status?.conflicts?.[0]).toMatchObject({ sysctl: 'net.ipv4.tcp_fin_timeout', mitigation: 'fin-long', nodes: 2 });
    const generation = (await kernelNode('node-1')).metadata.generation;
    const samples: string[] = [];
    for (let i = 0; i < 8; i++) {
      samples.push(await sysctl('node-1', 'net.ipv4.tcp_fin_timeout'));
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(new Set(samples).size).toBe(1);
    expect([original, '15', '90']).toContain(samples[0]);
    expect((await kernelNode('node-1')).metadata.generation).toBe(generation);
    // With one of them gone the conflict ends and the other applies.
    await deleteMitigation('fin-short');
    await untilApplied('fin-long');
    expect(condition(await mitigation('fin-long'), 'Conflict')?.status).toBe('False');
    expect(await sysctl('node-1', 'net.ipv4.tcp_fin_timeout')).toBe('90');
    await deleteMitigation('fin-long');
    expect(await sysctl('node-1', 'net.ipv4.tcp_fin_timeout')).toBe(original);
  });

  it('skips nodes whose kernel is outside the affected range, and says so', async () => {
    const before = await sysctl('node-1', 'net.ipv4.tcp_sack');
    await apply(`apiVersion: ksleuth.io/v1alpha1
kind: KernelMitigation
metadata: {name: old-kernels-only}
spec:
  sysctls: [{name: net.ipv4.tcp_sack, value: "0"}]
  kernelVersions: ">=5.10.0 <5.10.200"
`);
    await until('the skip to be reported', async () => (await mitigation('old-kernels-only')).status?.nodes?.skippedKernel === 3);
    const m = await mitigation('old-kernels-only');
    expect(condition(m, 'Applied')).toMatchObject({ status: 'False', reason: 'NoMatchingNodes' });
    expect(condition(m, 'Applied')?.message).toMatch(/3 matching nodes run a kernel outside >=5\.10\.0 <5\.10\.200/);
    expect(await sysctl('node-1', 'net.ipv4.tcp_sack')).toBe(before);
    expect((await kernelNode('node-1')).spec.sysctls ?? []).toEqual([]);
    await deleteMitigation('old-kernels-only');
  });

  it('refuses a sysctl outside the allow-list with a clear message, and writes nothing', async () => {
    const before = await run('sysctl', ['-n', 'kernel.panic']).then((r) => r.stdout.trim());
    await apply(`apiVersion: ksleuth.io/v1alpha1
kind: KernelMitigation
metadata: {name: no-panic}
spec:
  sysctls: [{name: kernel.panic, value: "10"}]
`);
    await until('the refusal', async () => condition(await mitigation('no-panic'), 'Accepted')?.status === 'False');
    const m = await mitigation('no-panic');
    expect(condition(m, 'Accepted')).toMatchObject({ reason: 'SysctlNotAllowed' });
    expect(condition(m, 'Accepted')?.message).toMatch(/kernel\.panic/);
    for (const node of ['node-1', 'node-2', 'node-3']) expect((await kernelNode(node)).spec.sysctls ?? []).toEqual([]);
    expect(await run('sysctl', ['-n', 'kernel.panic']).then((r) => r.stdout.trim())).toBe(before);
    await deleteMitigation('no-panic');
  });

  it('changes nothing when an agent is killed and restarted, and re-applies after a simulated reboot', async () => {
    await apply(`apiVersion: ksleuth.io/v1alpha1
kind: KernelMitigation
metadata: {name: tfo-hold}
spec:
  sysctls: [{name: ${fastopen}, value: "0"}]
  nodeSelector: {matchLabels: {pool: ingress}}
`);
    await untilApplied('tfo-hold');
    const statePath = join(system().agent('node-1').stateDir, 'sysctl-state.json');
    const stateBefore = await readFile(statePath, 'utf8');

    await system().killAgent('node-1');
    expect(await sysctl('node-1', fastopen)).toBe('0');
    await system().startAgent('node-1');
    await new Promise((r) => setTimeout(r, 3000));
    expect(await sysctl('node-1', fastopen)).toBe('0');
    expect(await readFile(statePath, 'utf8')).toBe(stateBefore);

    // A reboot: the kernel's default comes back, the state file stays, the boot id changes.
    await system().killAgent('node-1');
    await setSysctl('node-1', fastopen, '1');
    const state = JSON.parse(stateBefore) as Record<string, unknown>;
    await writeFile(statePath, JSON.stringify(state).replaceAll(/"bootId":"[^"]+"/g, '"bootId":"00000000-0000-0000-0000-000000000000"'));
    await system().startAgent('node-1');
    await until('the value to be re-applied after the reboot', async () => (await sysctl('node-1', fastopen)) === '0');
    await deleteMitigation('tfo-hold');
    expect(await sysctl('node-1', fastopen)).toBe('1');
  });
});

describe('from a finding to a mitigation', () => {
  it('prints a KernelMitigation from a finding that applies as is, here in dry run', async () => {
    const s = system();
    await s.cluster.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: ksleuth.io/v1alpha1
kind: KernelInvestigation
metadata: {name: fragmented}
spec:
  nodes: {selector: {matchLabels: {pool: database}}}
  captures: [{memory: {}}]
  ttlSecondsAfterFinished: 3600
`,
    });
    // The finding as a completed investigation reports it (status written as the operator would;
    // with a completionTime the operator leaves it alone).
    await s.client.patch(
      ksleuth('KernelInvestigation'),
      'fragmented',
      {
        status: {
          phase: 'Completed',
          completionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
          findings: [
            {
              pattern: 'memory-fragmentation',
              severity: 'warning',
              title: 'Free memory is fragmented',
              evidence: ['node-3: order-3 index 0.93'],
              recommendation: 'Raise vm.min_free_kbytes.',
              nodes: { count: 1, examples: ['node-3'] },
              suggestedMitigation: { sysctls: [{ name: 'vm.min_free_kbytes', value: '131072' }] },
            },
          ],
        },
      },
      { subresource: 'status' },
    );
    const { stdout: yaml } = await run(join(projectRoot, 'bin', 'ksleuth'), [
      'mitigation',
      'from-finding',
      'fragmented',
      'memory-fragmentation',
      '--dry-run',
      '--kubeconfig',
      s.cluster.kubeconfigPath,
    ]);
    const before = await run('sysctl', ['-n', 'vm.min_free_kbytes']).then((r) => r.stdout.trim());
    await apply(yaml);
    const name = 'memory-fragmentation-fragmented';
    // The operator lists the node at once; its agent then reports the value in force.
    await until('the dry run to report the current value', async () => (await mitigation(name)).status?.dryRun?.[0]?.current !== undefined);
    expect((await mitigation(name)).status?.dryRun).toHaveLength(1);
    expect((await mitigation(name)).status?.dryRun?.[0]).toMatchObject({ node: 'node-3', sysctl: 'vm.min_free_kbytes', desired: '131072', current: before });
    expect(await run('sysctl', ['-n', 'vm.min_free_kbytes']).then((r) => r.stdout.trim())).toBe(before);
    await deleteMitigation(name);
  });
});

describe('a global vm.* mitigation', () => {
  let hostSwappiness: string;
  beforeAll(async () => {
    hostSwappiness = (await run('sysctl', ['-n', 'vm.swappiness'])).stdout.trim();
  });
  afterAll(async () => {
    await run('sysctl', ['-qw', `vm.swappiness=${hostSwappiness}`]);
  });

  it('applies vm.swappiness and reverts it to the host value', async () => {
    const target = hostSwappiness === '7' ? '8' : '7';
    await apply(`apiVersion: ksleuth.io/v1alpha1
kind: KernelMitigation
metadata: {name: swappiness}
spec:
  sysctls: [{name: vm.swappiness, value: "${target}"}]
  nodeSelector: {matchLabels: {pool: database}}
`);
    await untilApplied('swappiness');
    expect((await run('sysctl', ['-n', 'vm.swappiness'])).stdout.trim()).toBe(target);
    await deleteMitigation('swappiness');
    expect((await run('sysctl', ['-n', 'vm.swappiness'])).stdout.trim()).toBe(hostSwappiness);
  });
});
