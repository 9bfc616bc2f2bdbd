import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelCapture } from '../../../api/v1alpha1/resources.js';
import { KubeClient } from '../../../lib/kube/client.js';
import { ksleuth } from '../../../lib/kube/resources.js';
import { Agent } from '../../../node-agent/agent/agent.js';
import type { AgentConfig } from '../../../node-agent/agent/config.js';
import type { CaptureModule } from '../../../node-agent/engine/capture.js';
import { useCluster } from '../../helpers/cluster.js';
import { fakeNodeFacts } from '../fake-facts.js';

const cluster = useCluster({ controllerManager: false, kwok: false });
const log = pino({ level: 'silent' });
const node = 'deadline-node';

const facts = fakeNodeFacts({ hostname: node });

/**
 * A capture that waits out its window, then takes 30 s to post-process (as perf script can on a
 * big profile); it stops at once when told to, like the real ones.
 */
const slowCapture: CaptureModule<'memory', string, string> = {
  kind: 'memory',
  title: 'a capture with slow post-processing',
  requirements: () => [],
  async run(ctx) {
    await sleep(Math.max(0, ctx.windowEnd.getTime() - Date.now()) + 30_000, undefined, { signal: ctx.signal });
    return 'done';
  },
  parse: (raw) => raw,
  analyze: () => ({ summary: { processed: true }, findings: [] }),
};

/** A capture that is done when its window is. */
const quickCapture: CaptureModule<'slab', string, string> = {
  kind: 'slab',
  title: 'a capture done with its window',
  requirements: () => [],
  async run(ctx) {
    await sleep(Math.max(0, ctx.windowEnd.getTime() - Date.now()), undefined, { signal: ctx.signal });
    return 'done';
  },
  parse: (raw) => raw,
  analyze: () => ({ summary: { processed: true }, findings: [] }),
};

let agent: Agent;
let client: KubeClient;

beforeAll(async () => {
  client = cluster().client();
  const stateDir = await mkdtemp(join(tmpdir(), 'ksleuth-deadline-'));
  const config: AgentConfig = {
    nodeName: node,
    operatorIdentity: 'system:serviceaccount:ksleuth-system:ksleuth-operator',
    stateDir,
    artifactDir: join(stateDir, 'artifacts'),
    artifactPort: 0,
    artifactMaxBytes: 1024 ** 3,
    artifactMaxAgeSeconds: 3600,
    healthPort: 0,
    maxConcurrentCaptures: 4,
    heartbeatSeconds: 600,
    driftCheckSeconds: 600,
    hostRoot: '/',
    procRoot: '/proc',
    allowCustomPrograms: false,
    allowlistExtra: [],
    watch: false,
    kernelLog: 'auto',
    watchConfig: [],
    nodeConditions: false,
  };
  agent = await Agent.start({
    config,
    client: KubeClient.load(cluster().kubeconfigPath),
    standIn: { facts, modules: { memory: slowCapture, slab: quickCapture } },
    log,
  });
});

afterAll(async () => {
  await agent?.stop();
});

async function create(
  name: string,
  durationSeconds: number,
  deadlineInSeconds: number,
  captures: unknown[] = [{ memory: { intervalSeconds: 1 } }],
): Promise<Date> {
  const deadline = new Date(Date.now() + deadlineInSeconds * 1000);
  await client.create(ksleuth('KernelCapture'), {
    apiVersion: 'ksleuth.io/v1alpha1',
    kind: 'KernelCapture',
    metadata: { name },
    spec: { investigation: name, nodeName: node, captures, durationSeconds, deadline: deadline.toISOString() },
  });
  return deadline;
}

async function status(name: string): Promise<KernelCapture['status']> {
  return (await client.get<KernelCapture>(ksleuth('KernelCapture'), name)).status;
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

describe('the agent and the investigation’s deadline (spec.deadline)', () => {
  it('stops a capture that overruns, and reports it TimedOut by the deadline', async () => {
    const deadline = await create('overrun', 1, 6);
    await until('the capture to finish', async () => ['Succeeded', 'Failed', 'TimedOut'].includes((await status('overrun'))?.phase ?? ''), 10_000);
    const finished = await status('overrun');
    expect(finished?.phase).toBe('TimedOut');
    expect(finished?.message).toMatch(/deadline/);
    expect(Date.parse(finished!.completionTime!)).toBeLessThanOrEqual(deadline.getTime());
  });

  it('does not start a capture whose window cannot end before the deadline, and says why', async () => {
    await create('too-late', 20, 5);
    await until('the capture to finish', async () => (await status('too-late'))?.phase === 'TimedOut', 4_000);
    expect((await status('too-late'))?.message).toMatch(/20 s window.*deadline/);
  });

  it('never turns a capture the operator marked TimedOut back into Succeeded', async () => {
    // The operator's deadline (simulated) strikes while the agent is still capturing its 3 s window.
    await create('flip', 3, 60, [{ slab: {} }]);
    await until('the capture to run', async () => (await status('flip'))?.phase === 'Running', 5_000);
    const message = 'the node did not report before the investigation’s deadline';
    await client.patch(ksleuth('KernelCapture'), 'flip', { status: { phase: 'TimedOut', message } }, { subresource: 'status' });
    // The agent's window ends about 3 s after it started; give it time to report.
    await sleep(5_000);
    expect(await status('flip')).toMatchObject({ phase: 'TimedOut', message });
  });
});
