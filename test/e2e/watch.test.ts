import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';
import { projectRoot } from '../../lib/paths.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { WatchFinding } from '../../api/v1alpha1/node.js';
import type { KernelNode } from '../../api/v1alpha1/resources.js';
import { KubeClient, type KubeObject } from '../../lib/kube/client.js';
import { ApiError } from '../../lib/kube/errors.js';
import { core, ksleuth } from '../../lib/kube/resources.js';
import { kubernetesVersion } from '../harness/binaries.js';
import { useKsleuth } from '../helpers/ksleuth.js';
import { oomKillInCgroup } from '../helpers/oom.js';

// Real agents (one per simulated node, in network namespaces) with the watch sampling every second
// and writing its history every two.
const configDir = mkdtempSync(join(tmpdir(), 'ksleuth-e2e-watch-'));
const watchConfig = join(configDir, 'watch.json');
writeFileSync(
  watchConfig,
  JSON.stringify({
    sampling: { slab: { intervalSeconds: 1 }, memory: { intervalSeconds: 1 }, pressure: { intervalSeconds: 1 }, tcp: { intervalSeconds: 2 } },
    history: { tiers: [{ stepSeconds: 1, points: 900 }], persistSeconds: 2 },
    trends: [
      'slab-cache-growth',
      'slab-cache-growth-days',
      'fragmentation-rising',
      'allocation-stalls-appear',
      'compaction-stalls-appear',
      'memory-pressure-climbs',
      'io-pressure-climbs',
      'close-wait-backlog-grows',
      'retransmits-climb',
    ].map((id) => ({ id, enabled: false })),
  }),
);
const system = useKsleuth({ agents: 2, operator: false, agentEnv: { KSLEUTH_WATCH_CONFIG: watchConfig } });
const clients: KubeClient[] = [];
afterAll(() => {
  for (const client of clients) client.close();
});

interface NodeObject extends KubeObject {
  status: { conditions: { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }[] };
}

function agentClient(node: string): KubeClient {
  const client = KubeClient.load(system().agent(node).kubeconfig, 'ksleuth-e2e');
  clients.push(client);
  return client;
}

async function refusal(request: Promise<unknown>): Promise<string> {
  const error = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ApiError)) throw new Error(`expected the API server to refuse, got ${error === undefined ? 'success' : String(error)}`);
  return error.serverMessage;
}

/** The metric names a PromQL expression selects; throws on an expression that does not parse. */
function metricNames(expr: string): string[] {
  const names: string[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) throw new Error(`PromQL does not parse at ${node.from}: ${expr}`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') names.push(expr.slice(node.from, node.to));
    },
  });
  return names;
}

/** Every PromQL expression of the chart's PrometheusRule and Grafana dashboard, as rendered. */
async function chartExpressions(): Promise<{ where: string; expr: string }[]> {
  const { stdout } = await promisify(execFile)(
    system().cluster.binaries.helm,
    [
      'template',
      'ksleuth',
      join(projectRoot, 'charts', 'ksleuth'),
      '--kube-version',
      kubernetesVersion(),
      '--set',
      'metrics.prometheusRule.enabled=true',
      '--set',
      'metrics.grafanaDashboard.enabled=true',
      '--show-only',
      'templates/prometheusrule.yaml',
      '--show-only',
      'templates/grafana-dashboard.yaml',
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const expressions: { where: string; expr: string }[] = [];
  for (const doc of stdout.split(/^---$/m).map((d) => parseYaml(d) as Record<string, any> | null)) {
    if (doc?.kind === 'PrometheusRule') {
      for (const group of doc.spec.groups) for (const rule of group.rules) expressions.push({ where: `alert ${rule.alert}`, expr: rule.expr });
    } else if (doc?.kind === 'ConfigMap') {
      const dashboard = JSON.parse(doc.data['ksleuth-watch.json']) as {
        panels: { title: string; targets: { expr: string }[] }[];
        templating: { list: { query: string; name: string }[] };
      };
      for (const panel of dashboard.panels)
        for (const target of panel.targets) expressions.push({ where: `panel "${panel.title}"`, expr: target.expr.replaceAll('$node', '.*') });
      for (const variable of dashboard.templating.list) {
        const inner = /^label_values\((\w+), \w+\)$/.exec(variable.query)?.[1];
        if (inner) expressions.push({ where: `variable ${variable.name}`, expr: inner });
      }
    }
  }
  return expressions;
}

const kernelNode = (node: string) => system().client.get<KernelNode>(ksleuth('KernelNode'), node);

describe('the always-on watch in the agents', () => {
  it('reports how it watches on the KernelNode and sets ksleuth’s conditions False on its Node', async () => {
    await system().waitFor('the watch status and the node conditions', async () => {
      const kn = await kernelNode('node-1');
      const node = await system().client.get<NodeObject>(core.nodes, 'node-1');
      return kn.status?.watch !== undefined && node.status.conditions.some((c) => c.type === 'KernelHardwareError');
    });
    const { watch } = (await kernelNode('node-1')).status!;
    expect(watch!.kernelLog).toBe('kmsg');
    expect(watch!.samplers.map((s) => [s.name, s.state])).toEqual([
      ['slab', 'Running'],
      ['memory', 'Running'],
      ['pressure', 'Running'],
      ['tcp', 'Running'],
    ]);
    const conditions = (await system().client.get<NodeObject>(core.nodes, 'node-1')).status.conditions;
    const ours = conditions.filter((c) => c.type.startsWith('Kernel'));
    expect(ours.map((c) => c.type).sort()).toEqual(['KernelFilesystemError', 'KernelHardwareError', 'KernelOops']);
    expect(ours.every((c) => c.status === 'False' && c.reason === 'NotDetected')).toBe(true);
    // The kubelet's (here kwok's) conditions are still there, as they were.
    expect(conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('shows a real OOM kill on the KernelNode and as an Event on the Node, naming the task', async () => {
    const killed = await oomKillInCgroup('ksleuth-e2e-oom');
    let found: WatchFinding | undefined;
    await system().waitFor(
      'the oom-kill finding on KernelNode node-1',
      async () => {
        found = (await kernelNode('node-1')).status?.findings?.find((f) => f.pattern === 'oom-kill' && f.evidence.some((e) => e.includes(`(${killed.comm})`)));
        return found !== undefined;
      },
      20_000,
    );
    console.log(`oom-kill on KernelNode node-1 ${Date.now() - killed.at} ms after the kill`);
    expect(found).toMatchObject({ id: 'kernel-log/oom-kill', source: 'kernel-log', rule: 'oom-kill-cgroup', severity: 'warning' });
    expect(found!.title).toContain('ksleuth-e2e-oom');
    const kn = await kernelNode('node-1');
    expect(kn.status!.findingCount).toBeGreaterThanOrEqual(1);
    expect(kn.status!.highestSeverity).toMatch(/warning|critical/);

    let event: KubeObject | undefined;
    await system().waitFor(
      'the OomKill Event on Node node-1',
      async () => {
        const events = await system().client.list<
          KubeObject & { reason: string; message: string; involvedObject: { kind: string; name: string; uid: string } }
        >(core.events('default'), {
          fieldSelector: 'involvedObject.kind=Node,involvedObject.name=node-1,reason=OomKill',
        });
        event = events.items.find((e) => e.message.includes(`Killed process ${killed.pid} (${killed.comm})`));
        return event !== undefined;
      },
      20_000,
    );
    expect(event).toMatchObject({ type: 'Warning', source: { component: 'ksleuth-agent' }, involvedObject: { kind: 'Node', name: 'node-1', uid: 'node-1' } });
  });

  it('lets an agent set only ksleuth’s conditions, and only on its own Node', async () => {
    const agent = agentClient('node-1');
    const condition = (type: string, status = 'True') => ({
      status: {
        conditions: [{ type, status, reason: 'Test', message: 'written by the test', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }],
      },
    });
    const patch = (node: string, body: unknown) => agent.patch(core.nodes, node, body, { subresource: 'status', type: 'strategic' });
    expect(await refusal(patch('node-2', condition('KernelOops')))).toMatch(/the ksleuth agent of node node-1 may not write the status of node node-2/);
    expect(await refusal(patch('node-1', condition('Ready', 'False')))).toMatch(
      /may change only ksleuth's Node conditions \(KernelOops, .*\); the request changes Ready/,
    );
    expect(await refusal(patch('node-1', { status: { capacity: { cpu: '1000' } } }))).toMatch(/not status\.capacity/);
    expect(await refusal(agent.patch(core.nodes, 'node-1', { metadata: { labels: { stolen: 'yes' } } }, { type: 'strategic' }))).toMatch(/forbidden/i);
    // Its own ksleuth condition is allowed (and the agent puts the right value back at its next check).
    await patch('node-1', condition('KernelOops', 'False'));
    const node = await system().client.get<NodeObject>(core.nodes, 'node-1');
    expect(node.status.conditions.find((c) => c.type === 'KernelOops')?.reason).toBe('Test');
  });

  it('exports every metric that the chart’s alerts and dashboard use (checked against a live agent)', async () => {
    const agent = system().agent('node-1');
    // Every sampler has run once (the TCP census needs a turn through all namespaces).
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const text = await (await fetch(`http://${agent.host.address}:8081/metrics`)).text();
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1]!));
    const expressions = await chartExpressions();
    expect(expressions.length).toBeGreaterThan(20);
    expect(new Set(expressions.flatMap((e) => metricNames(e.expr))).size).toBeGreaterThan(12);
    const missing: string[] = [];
    for (const { where, expr } of expressions) {
      for (const name of metricNames(expr)) {
        const family = name.replace(/_(bucket|sum|count)$/, '');
        if (!exported.has(name) && !exported.has(family)) missing.push(`${where}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
    // And the figures are there, not only their names.
    for (const series of [
      'ksleuth_node_slab_total_bytes',
      'ksleuth_node_tcp_close_wait_sockets{data="unread"}',
      'ksleuth_watch_sampler_up{sampler="slab"} 1',
    ]) {
      expect(text).toContain(series);
    }
  });

  it('keeps its history and findings on the node across an agent restart', async () => {
    const agent = system().agent('node-1');
    const historyFile = join(agent.stateDir, 'watch', 'history.bin');
    await system().waitFor('the history file', async () => (await stat(historyFile).catch(() => undefined)) !== undefined, 20_000);
    await system().waitFor('a heartbeat with the history', async () => (await kernelNode('node-1')).status?.watch?.historySince !== undefined, 30_000);
    const before = (await kernelNode('node-1')).status!;
    const restartedAt = Date.now();
    await agent.process!.stop(15_000);
    await system().startAgent('node-1');
    const after = (await kernelNode('node-1')).status!;
    expect(Date.parse(after.watch!.historySince!)).toBeLessThanOrEqual(Date.parse(before.watch!.historySince!));
    expect(Date.parse(after.watch!.historySince!)).toBeLessThan(restartedAt - 2000);
    expect(after.watch!.historySeries).toBeGreaterThan(0);
    expect(after.watch!.problem).toBeUndefined();
    const oom = after.findings?.find((f) => f.id === 'kernel-log/oom-kill');
    expect(oom?.firstTime).toBe(before.findings?.find((f) => f.id === 'kernel-log/oom-kill')?.firstTime);
  });
});
