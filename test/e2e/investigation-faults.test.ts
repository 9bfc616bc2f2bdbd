import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { KernelCapture, KernelInvestigation, KernelNode } from '../../api/v1alpha1/resources.js';
import { formatTime } from '../../lib/conditions.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { useKsleuth } from '../helpers/ksleuth.js';

const run = promisify(execFile);

// node-3's agent is told tracefs lives where it does not: that node lacks the capability.
const system = useKsleuth({
  agents: 3,
  agentEnvFor: (node): Record<string, string> => (node === 'node-3' ? { KSLEUTH_TRACEFS_PATH: '/nonexistent/tracing' } : {}),
});

async function investigation(name: string): Promise<KernelInvestigation> {
  return system().client.get<KernelInvestigation>(ksleuth('KernelInvestigation'), name);
}

async function captures(name: string): Promise<KernelCapture[]> {
  return (await system().client.list<KernelCapture>(ksleuth('KernelCapture'), { fieldSelector: `spec.investigation=${name}` })).items;
}

async function create(name: string, spec: string): Promise<void> {
  await system().cluster.kubectl(['apply', '-f', '-'], {
    input: `apiVersion: ksleuth.io/v1alpha1\nkind: KernelInvestigation\nmetadata: {name: ${name}}\nspec:\n${spec}`,
  });
}

async function finished(name: string, timeoutMs = 180_000): Promise<KernelInvestigation> {
  await system().waitFor(`${name} to finish`, async () => ['Completed', 'Failed'].includes((await investigation(name)).status?.phase ?? ''), timeoutMs);
  return investigation(name);
}

function complete(inv: KernelInvestigation) {
  return inv.status?.conditions?.find((c) => c.type === 'Complete');
}

describe('investigations under faults', () => {
  it('reports a capture Failed when its agent is killed mid-capture, and the investigation still completes', async () => {
    await create(
      'agent-crash',
      `  nodes: {selector: {}}
  durationSeconds: 20
  captures: [{ioLatency: {}}, {memory: {intervalSeconds: 2}}]
`,
    );
    await system().waitFor(
      'node-2 to be capturing',
      async () => (await captures('agent-crash')).find((c) => c.spec.nodeName === 'node-2')?.status?.phase === 'Running',
    );
    await system().killAgent('node-2');
    // The tracer processes die with the agent: nothing is left in its network namespace.
    const { stdout: pids } = await run('ip', ['netns', 'pids', system().agent('node-2').host.netns]);
    expect(pids.trim()).toBe('');
    await system().startAgent('node-2');
    const inv = await finished('agent-crash');
    expect(inv.status?.phase).toBe('Completed');
    const crashed = (await captures('agent-crash')).find((c) => c.spec.nodeName === 'node-2')!;
    expect(crashed.status).toMatchObject({ phase: 'Failed' });
    expect(crashed.status?.message).toMatch(/agent restarted while this capture was running/);
    expect(inv.status?.captures).toMatchObject({ failed: 1, succeeded: 2 });
  });

  it('creates no duplicate captures when the operator is killed mid-fan-out, and still completes', async () => {
    // Forty more nodes whose "agents" have registered but never run anything: they time out.
    const extra = Array.from({ length: 40 }, (_, i) => `idle-${String(i).padStart(2, '0')}`);
    await system().cluster.addNodes(extra.map((name) => ({ name, labels: { fanout: 'yes' } })));
    await system().cluster.waitForNodesReady(extra);
    for (const name of extra) {
      await system().client.create(ksleuth('KernelNode'), { apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelNode', metadata: { name }, spec: {} });
      await system().client.patch(
        ksleuth('KernelNode'),
        name,
        { status: { heartbeatTime: formatTime(new Date()), kernelVersion: '6.1.0-simulated' } },
        { subresource: 'status' },
      );
    }
    for (const node of ['node-1', 'node-2', 'node-3']) await system().cluster.kubectl(['label', 'node', node, 'fanout=yes', '--overwrite']);
    await create(
      'operator-crash',
      `  nodes: {selector: {matchLabels: {fanout: "yes"}}, maxNodes: 100}
  durationSeconds: 5
  deadlineSeconds: 30
  captures: [{memory: {intervalSeconds: 1}}]
`,
    );
    await system().waitFor('the fan-out to start', async () => (await investigation('operator-crash')).status?.startTime !== undefined, 30_000);
    await system().killOperator();
    const createdBeforeCrash = (await captures('operator-crash')).length;
    await system().startOperator();
    const inv = await finished('operator-crash', 120_000);
    const all = await captures('operator-crash');
    expect(inv.status?.targetNodes).toBe(43);
    expect(all).toHaveLength(43);
    expect(new Set(all.map((c) => c.spec.nodeName)).size).toBe(43);
    expect(createdBeforeCrash).toBeLessThanOrEqual(43);
    expect(complete(inv)).toMatchObject({ status: 'True', reason: 'DeadlineExceeded' });
    expect(inv.status?.captures).toMatchObject({ succeeded: 3, timedOut: 40 });
    const late = all.find((c) => c.spec.nodeName === 'idle-00')!;
    expect(late.status).toMatchObject({ phase: 'TimedOut' });
    for (const name of extra) await system().client.delete(ksleuth('KernelNode'), name);
  });

  it('resumes after the API server restarts while watches are open', async () => {
    await create(
      'apiserver-restart',
      `  nodes: {names: [node-1, node-2, node-3]}
  durationSeconds: 15
  captures: [{memory: {intervalSeconds: 2}}, {slab: {intervalSeconds: 2}}]
`,
    );
    await system().waitFor('the captures to run', async () => (await captures('apiserver-restart')).some((c) => c.status?.phase === 'Running'));
    await system().cluster.restartApiServer(2000);
    const inv = await finished('apiserver-restart');
    expect(complete(inv)).toMatchObject({ status: 'True', reason: 'AllNodesReported' });
    expect(inv.status?.captures).toMatchObject({ succeeded: 3 });
    expect(system().operator?.running).toBe(true);
    for (const agent of system().agents) expect(agent.process?.running).toBe(true);
    // Alone it takes ~20 s (a 5 s restart, a 15 s window); beside the other e2e files the restart
    // and the reconnections take longer, within the bounds of its own waits.
  }, 240_000);

  it('fails an invalid investigation with a reason in status, without a retry storm', async () => {
    await create(
      'custom-program',
      `  nodes: {names: [node-1]}
  captures: [{bpftrace: {program: "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }"}}]
`,
    );
    const inv = await finished('custom-program', 30_000);
    expect(inv.status?.phase).toBe('Failed');
    expect(inv.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'CustomProgramsDisabled' });
    expect(complete(inv)?.message).toMatch(/customPrograms\.enabled=true/);
    expect(await captures('custom-program')).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const metrics = await system().operatorMetrics();
    const terminal = Number(/ksleuth_reconcile_total\{controller="investigation",result="terminal_error"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    expect(terminal).toBeGreaterThanOrEqual(1);
    expect(terminal).toBeLessThanOrEqual(3);
    const { stdout } = await system().cluster.kubectl(['get', 'events', '-n', 'default', '--field-selector', 'involvedObject.name=custom-program']);
    expect(stdout).toMatch(/CustomProgramsDisabled/);
  });

  it('reports Unsupported with the reason on a node that lacks a capability; the others complete', async () => {
    const kn = await system().client.get<KernelNode>(ksleuth('KernelNode'), 'node-3');
    expect(kn.status?.capabilities?.tracefs).toBe(false);
    expect(kn.status?.captures?.find((c) => c.kind === 'ftrace')).toMatchObject({ supported: false });
    await create(
      'needs-tracefs',
      `  nodes: {names: [node-1, node-2, node-3]}
  durationSeconds: 5
  captures: [{ftrace: {mode: events, events: ["sched:sched_switch"]}}]
`,
    );
    const inv = await finished('needs-tracefs');
    expect(inv.status?.phase).toBe('Completed');
    expect(inv.status?.captures).toMatchObject({ succeeded: 2, unsupported: 1 });
    const node3 = (await captures('needs-tracefs')).find((c) => c.spec.nodeName === 'node-3')!;
    expect(node3.status?.phase).toBe('Unsupported');
    expect(node3.status?.results?.[0]).toMatchObject({ state: 'Unsupported', reason: 'TracefsUnavailable' });
    expect(node3.status?.results?.[0]?.message).toMatch(/mount -t tracefs/);
  });

  it('deletes a finished investigation after its TTL, and its captures with it', async () => {
    await create(
      'short-lived',
      `  nodes: {names: [node-1, node-2]}
  durationSeconds: 2
  ttlSecondsAfterFinished: 0
  captures: [{memory: {intervalSeconds: 1}}]
`,
    );
    await system().waitFor(
      'the investigation to be deleted after finishing',
      async () => {
        const gone = await investigation('short-lived').then(
          () => false,
          () => true,
        );
        return gone;
      },
      120_000,
    );
    await system().waitFor('its captures to be garbage-collected', async () => (await captures('short-lived')).length === 0, 60_000);
  });
});
