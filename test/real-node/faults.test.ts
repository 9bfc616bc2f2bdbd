import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KernelCapture, KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { nodeCgroup, trackingHierarchy } from '../harness/node-host.js';
import { instancePrefix } from '../../node-agent/engine/tracefs.js';
import { namespace, until } from '../chart/chart.js';
import { chartPods, type HostProcess, isReady, leaseHolder, podProcesses, readyAgent, useKsleuthRelease } from '../helpers/real-node.js';

const release = useKsleuthRelease();
const tracefs = '/sys/kernel/tracing';

function globalTracer(): { tracer: string; on: string } {
  return { tracer: readFileSync(join(tracefs, 'current_tracer'), 'utf8').trim(), on: readFileSync(join(tracefs, 'tracing_on'), 'utf8').trim() };
}

/** ksleuth's tracefs instances made by one of these processes (the name carries the owner's pid). */
function instancesOf(pids: Set<number>): string[] {
  return readdirSync(join(tracefs, 'instances')).filter((name) => {
    const owner = new RegExp(`^${instancePrefix}.*?-(\\d+)-[0-9a-z]+$`).exec(name)?.[1];
    return owner !== undefined && pids.has(Number(owner));
  });
}

/** Every bpftrace or perf process in the node's cgroups, whatever pod it belongs to. */
function tracingToolsOnNode(): number[] {
  const found: number[] = [];
  const walk = (dir: string): void => {
    for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)) {
      const comm = existsSync(`/proc/${pid}/comm`) ? readFileSync(`/proc/${pid}/comm`, 'utf8').trim() : '';
      if (comm === 'bpftrace' || comm === 'perf') found.push(pid);
    }
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) walk(join(dir, entry.name));
  };
  walk(join(trackingHierarchy(), nodeCgroup));
  return found;
}

async function investigation(name: string): Promise<KernelInvestigation> {
  return release().cluster.client().get<KernelInvestigation>(ksleuth('KernelInvestigation'), name);
}

async function captureOf(name: string): Promise<KernelCapture | undefined> {
  const list = await release()
    .cluster.client()
    .list<KernelCapture>(ksleuth('KernelCapture'), { fieldSelector: `spec.investigation=${name}` });
  return list.items[0];
}

describe('faults on the real node', () => {
  it('deleting the agent pod in the middle of a capture stops bpftrace and perf, removes its tracefs instance, keeps the tracer, and fails the capture', async () => {
    const { cluster, node } = release();
    const agent = await readyAgent(cluster);
    const tracerBefore = globalTracer();
    await cluster.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: ksleuth.io/v1alpha1
kind: KernelInvestigation
metadata: {name: interrupted}
spec:
  nodes: {names: [${node.name}]}
  durationSeconds: 120
  captures:
    - kmalloc: {}
    - cpuProfile: {frequencyHz: 49}
    - ftrace: {mode: events, events: ["sched:sched_switch"]}
`,
    });
    const tools: HostProcess[] = [];
    const agentPids = new Set<number>();
    let instances: string[] = [];
    await until(
      'bpftrace, perf and a tracefs instance of the agent’s',
      async () => {
        const processes = podProcesses(agent.metadata.uid!);
        for (const p of processes) agentPids.add(p.pid);
        tools.splice(0, tools.length, ...processes.filter((p) => p.comm === 'bpftrace' || p.comm === 'perf'));
        instances = instancesOf(agentPids);
        return tools.some((p) => p.comm === 'bpftrace') && tools.some((p) => p.comm === 'perf') && instances.length > 0;
      },
      90_000,
    );
    expect((await captureOf('interrupted'))?.status?.phase).toBe('Running');

    await cluster.kubectl(['delete', 'pod', '-n', namespace, agent.metadata.name!, '--wait', '--timeout=120s']);
    for (const tool of tools) expect(existsSync(`/proc/${tool.pid}`), `${tool.comm} (pid ${tool.pid}) is gone`).toBe(false);
    expect(tracingToolsOnNode()).toEqual([]);
    expect(instancesOf(agentPids)).toEqual([]);
    for (const name of instances) expect(existsSync(join(tracefs, 'instances', name)), name).toBe(false);
    expect(globalTracer()).toEqual(tracerBefore);

    await until('the capture to be reported Failed', async () => (await captureOf('interrupted'))?.status?.phase === 'Failed', 120_000);
    const capture = await captureOf('interrupted');
    // Written by the agent as it shuts down, or by its replacement when the old one was killed first.
    expect(capture?.status?.message, JSON.stringify(capture?.status)).toMatch(
      /the node agent shut down during the capture|the node agent restarted while this capture was running/,
    );
    // The DaemonSet's new agent does not pick the capture up again.
    const replacement = await readyAgent(cluster);
    expect(replacement.metadata.uid).not.toBe(agent.metadata.uid);
    expect((await captureOf('interrupted'))?.status?.phase).toBe('Failed');
    await until('the investigation to end', async () => ['Completed', 'Failed'].includes((await investigation('interrupted')).status?.phase ?? ''), 60_000);
  });

  it('killing the leader operator pod hands the Lease to another replica, and work goes on', async () => {
    const { cluster, node } = release();
    const leader = await leaseHolder(cluster);
    const operators = await chartPods(cluster, 'operator');
    expect(operators.map((p) => p.metadata.name)).toContain(leader);
    expect(
      operators.find((p) => p.metadata.name !== leader && isReady(p)),
      'a ready standby',
    ).toBeDefined();
    await cluster.kubectl(['delete', 'pod', '-n', namespace, leader!, '--grace-period=0', '--force']);
    // The killed leader releases the Lease as it stops; the standby and the Deployment's replacement
    // pod then race for it, and either winning is right.
    let holder: string | undefined;
    await until(
      'another operator pod to take the Lease',
      async () => {
        holder = await leaseHolder(cluster);
        return holder !== undefined && holder !== '' && holder !== leader;
      },
      90_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; the Lease is still held by ${holder ?? 'nobody'} (the killed leader was ${leader})`);
    });
    expect((await chartPods(cluster, 'operator')).map((p) => p.metadata.name)).toContain(holder);
    await cluster.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: ksleuth.io/v1alpha1
kind: KernelInvestigation
metadata: {name: after-failover}
spec:
  nodes: {names: [${node.name}]}
  durationSeconds: 5
  captures:
    - memory: {intervalSeconds: 1}
`,
    });
    await until(
      'the investigation to complete under the new leader',
      async () => (await investigation('after-failover')).status?.phase === 'Completed',
      120_000,
    );
    expect((await captureOf('after-failover'))?.status?.results?.[0]?.state).toBe('Succeeded');
    // The Deployment replaced the killed pod: two operators again, the new one standing by.
    await until('two ready operator pods', async () => (await chartPods(cluster, 'operator')).filter(isReady).length === 2, 120_000);
    // Each step has its own bound above; the test as a whole may take their sum.
  }, 330_000);
});
