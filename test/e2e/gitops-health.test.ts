import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../lib/paths.js';
import { useKsleuth } from '../helpers/ksleuth.js';

const run = promisify(execFile);

// node-2's agent narrows tcp_congestion_control to [cubic, bbr] (an extra allow-list the operator
// does not have), so it refuses a mitigation the operator accepted: a real failed node.
const system = useKsleuth({
  agents: 2,
  nodeLabels: (i) => ({ pool: `pool-${i + 1}` }),
  agentEnvFor: (node): Record<string, string> =>
    node === 'node-2' ? { KSLEUTH_ALLOWLIST_EXTRA: join(projectRoot, 'test', 'fixtures', 'sysctl', 'allowlist-extra.yaml') } : {},
});

const luaScript = join(projectRoot, 'charts', 'ksleuth', 'files', 'argocd', 'health.lua');
let tools = '';

interface Verdict {
  name: string;
  status: string;
  message: string;
}

/** Runs a helper with the object on stdin and returns its one-line verdict. */
function verdict(command: string, args: string[], object: string): Promise<Verdict> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Verdict) : reject(new Error(`${command} exited ${code}: ${err}`))));
    child.stdin.end(object);
  });
}

/** The object as `kubectl get -o json` prints it, and what kstatus and the Argo CD check say of it. */
async function health(kind: string, name: string): Promise<{ kstatus: Verdict; argocd: Verdict; object: Record<string, unknown> }> {
  const { stdout } = await system().cluster.kubectl(['get', kind, name, '-o', 'json']);
  return {
    kstatus: await verdict(join(tools, 'kstatus'), [], stdout),
    argocd: await verdict(join(tools, 'argocd-health'), [luaScript], stdout),
    object: JSON.parse(stdout) as Record<string, unknown>,
  };
}

async function conditionTrue(kind: string, name: string, type: string): Promise<boolean> {
  const { stdout } = await system().cluster.kubectl(['get', kind, name, '-o', `jsonpath={.status.conditions[?(@.type=="${type}")].status}`]);
  return stdout === 'True';
}

function apply(yaml: string): Promise<unknown> {
  return system().cluster.kubectl(['apply', '-f', '-'], { input: yaml });
}

function mitigation(name: string, pool: string, sysctl: string, value: string): string {
  return `apiVersion: ksleuth.io/v1alpha1
kind: KernelMitigation
metadata: {name: ${name}}
spec:
  sysctls: [{name: ${sysctl}, value: "${value}"}]
  nodeSelector: {matchLabels: {pool: ${pool}}}
`;
}

function investigation(name: string, spec: string): string {
  return `apiVersion: ksleuth.io/v1alpha1\nkind: KernelInvestigation\nmetadata: {name: ${name}}\nspec:\n${spec}`;
}

describe('health that GitOps tools read, from a real control plane', () => {
  beforeAll(async () => {
    const { stdout } = await run('bash', [join(projectRoot, 'hack', 'build-health-tools.sh')], { maxBuffer: 1024 * 1024 });
    tools = stdout.trim().split('\n').at(-1)!;
  }, 600_000);

  it('kstatus and the Argo CD check call applied mitigations Current / Healthy, rolling-out InProgress / Progressing, degraded Failed / Degraded', async () => {
    await apply(mitigation('applied', 'pool-1', 'net.ipv4.tcp_fastopen', '0'));
    await apply(mitigation('degraded', 'pool-2', 'net.ipv4.tcp_congestion_control', 'reno'));
    await system().waitFor('applied to be Ready', () => conditionTrue('kmit', 'applied', 'Ready'), 60_000);
    await system().waitFor('degraded to be Stalled', () => conditionTrue('kmit', 'degraded', 'Stalled'), 60_000);

    // A node whose agent is down cannot confirm: the rollout stays pending on it.
    await system().killAgent('node-1');
    await apply(mitigation('rolling-out', 'pool-1', 'net.ipv4.tcp_sack', '0'));
    await system().waitFor('rolling-out to be Reconciling', () => conditionTrue('kmit', 'rolling-out', 'Reconciling'), 60_000);

    const applied = await health('kmit', 'applied');
    expect(applied.kstatus).toMatchObject({ status: 'Current' });
    expect(applied.argocd).toEqual({ name: 'applied', status: 'Healthy', message: 'held on 1 node' });

    const rolling = await health('kmit', 'rolling-out');
    expect(rolling.kstatus.status).toBe('InProgress');
    expect(rolling.kstatus.message).toMatch(/held on 0 of 1 nodes; 1 node pending/);
    expect(rolling.argocd).toMatchObject({ status: 'Progressing', message: rolling.kstatus.message });

    const degraded = await health('kmit', 'degraded');
    expect(degraded.kstatus).toMatchObject({ status: 'Failed', message: '1 node failed to apply (see status.failures)' });
    expect(degraded.argocd).toMatchObject({ status: 'Degraded', message: '1 node failed to apply (see status.failures)' });
    // The mitigation's own conditions stay as they were: Degraded is still there for those who read it.
    const own = (degraded.object.status as { conditions: { type: string; status: string }[] }).conditions;
    expect(own.find((c) => c.type === 'Degraded')?.status).toBe('True');

    await system().startAgent('node-1');
    await system().waitFor('rolling-out to be Ready once the agent is back', () => conditionTrue('kmit', 'rolling-out', 'Ready'), 60_000);
    const done = await health('kmit', 'rolling-out');
    expect([done.kstatus.status, done.argocd.status]).toEqual(['Current', 'Healthy']);
    await system().cluster.kubectl(['delete', 'kmit', 'applied', 'rolling-out', 'degraded', '--wait=true', '--timeout=60s']);
  });

  it('reads a spec change the operator has not acted on as InProgress / Progressing, not as the old verdict', async () => {
    await apply(mitigation('changed', 'pool-1', 'net.ipv4.tcp_fastopen', '0'));
    await system().waitFor('changed to be Ready', () => conditionTrue('kmit', 'changed', 'Ready'), 60_000);
    await system().killOperator();
    try {
      await system().cluster.kubectl(['patch', 'kmit', 'changed', '--type=merge', '-p', '{"spec":{"priority":5}}']);
      const { kstatus, argocd, object } = await health('kmit', 'changed');
      expect(object).toMatchObject({ metadata: { generation: 2 }, status: { observedGeneration: 1 } });
      expect(kstatus.status).toBe('InProgress');
      expect(argocd).toMatchObject({ status: 'Progressing', message: 'Waiting for the ksleuth operator to act on the latest spec' });
    } finally {
      await system().startOperator();
    }
    await system().waitFor('the operator to observe generation 2', async () => {
      const { stdout } = await system().cluster.kubectl(['get', 'kmit', 'changed', '-o', 'jsonpath={.status.observedGeneration}']);
      return stdout === '2';
    });
    const { kstatus, argocd } = await health('kmit', 'changed');
    expect([kstatus.status, argocd.status]).toEqual(['Current', 'Healthy']);
    await system().cluster.kubectl(['delete', 'kmit', 'changed', '--wait=true', '--timeout=60s']);
  });

  it('says the same of investigations: running, completed and failed', async () => {
    await apply(investigation('running', '  nodes: {names: [node-1]}\n  durationSeconds: 120\n  captures: [{slab: {intervalSeconds: 2}}]\n'));
    await apply(investigation('completed', '  nodes: {names: [node-1]}\n  durationSeconds: 2\n  captures: [{slab: {intervalSeconds: 1}}]\n'));
    await apply(
      investigation(
        'refused',
        '  nodes: {names: [node-1]}\n  captures: [{bpftrace: {program: "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }"}}]\n',
      ),
    );
    await system().waitFor('running to run', () => conditionTrue('kinv', 'running', 'Reconciling'), 60_000);
    await system().waitFor('completed to be Ready', () => conditionTrue('kinv', 'completed', 'Ready'), 120_000);
    await system().waitFor('refused to be Stalled', () => conditionTrue('kinv', 'refused', 'Stalled'), 60_000);

    const running = await health('kinv', 'running');
    expect([running.kstatus.status, running.argocd.status]).toEqual(['InProgress', 'Progressing']);
    const completed = await health('kinv', 'completed');
    expect([completed.kstatus.status, completed.argocd.status]).toEqual(['Current', 'Healthy']);
    expect(completed.argocd.message).toMatch(/from 1 of 1 nodes/);
    const refused = await health('kinv', 'refused');
    expect([refused.kstatus.status, refused.argocd.status]).toEqual(['Failed', 'Degraded']);
    expect(refused.kstatus.message).toMatch(/customPrograms\.enabled=true/);
    await system().cluster.kubectl(['delete', 'kinv', 'running', 'completed', 'refused', '--wait=false']);
  });
});
