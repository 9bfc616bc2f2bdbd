import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { KernelCapture, KernelInvestigation } from '../../../api/v1alpha1/resources.js';
import { apiVersion } from '../../../api/v1alpha1/common.js';
import type { KubeObject } from '../../../lib/kube/client.js';
import { core, ksleuth } from '../../../lib/kube/resources.js';
import { stableStringify } from '../../../lib/stable-json.js';
import { cachedCapture, type CachedCapture } from '../../../operator/investigation/cached.js';
import { buildCapture } from '../../../operator/investigation/children.js';
import { captureIndexers, ChildTallies } from '../../../operator/investigation/tallies.js';
import { groupByOf, InvestigationTally, summarize, type NodeInfo } from '../../../operator/investigation/tally.js';
import { cachedKernelNode, cachedNode, type CachedKernelNode, type CachedNode } from '../../../operator/nodes/cached.js';
import { Informer } from '../../../runtime/informer.js';
import { useCluster } from '../../helpers/cluster.js';
import { eventually } from '../../runtime/helpers.js';

const cluster = useCluster({ controllerManager: false, kwok: false });
const quiet = pino({ level: 'silent' });
const running: Informer<KubeObject>[] = [];
afterAll(async () => {
  await Promise.all(running.map((informer) => informer.stop()));
});

function informer<T extends KubeObject>(options: ConstructorParameters<typeof Informer<T>>[0]): Informer<T> {
  const i = new Informer<T>(options);
  running.push(i as unknown as Informer<KubeObject>);
  return i.start();
}

/** The tally a fresh operator would build: everything listed from the API server, counted once. */
async function recount(investigation: KernelInvestigation): Promise<InvestigationTally> {
  const client = cluster().client();
  const [captures, nodes] = await Promise.all([
    client.listAll<KubeObject>(ksleuth('KernelCapture'), { fieldSelector: `spec.investigation=${investigation.metadata.name}` }),
    client.listAll<KubeObject>(core.nodes),
  ]);
  const info = new Map<string, NodeInfo>(nodes.items.map((n) => [n.metadata.name!, { labels: n.metadata.labels }]));
  const groupBy = groupByOf(investigation.spec);
  const tally = new InvestigationTally(investigation.metadata.uid!, groupBy);
  for (const c of captures.items.map(cachedCapture)) {
    if (c.metadata.ownerReferences?.some((o) => o.uid === investigation.metadata.uid))
      tally.set(
        c.metadata.name!,
        summarize(c, groupBy, (n) => info.get(n)),
      );
  }
  return tally;
}

describe('ChildTallies', () => {
  it('keeps each investigation’s tally equal to a recount through adds, status updates, deletes and node label changes', async () => {
    const client = cluster().client();
    const names = ['t1', 't2', 't3'];
    for (const [i, name] of names.entries()) await client.create(core.nodes, { metadata: { name, labels: { pool: i === 0 ? 'db' : 'web' } } });
    let investigation = await client.create<KernelInvestigation>(ksleuth('KernelInvestigation'), {
      apiVersion,
      kind: 'KernelInvestigation',
      metadata: { name: 'tally' },
      spec: { nodes: { names }, durationSeconds: 5, captures: [{ memory: {} }], compareBy: { nodeLabel: 'pool' } },
    });
    const captures = informer<CachedCapture>({ client, resource: ksleuth('KernelCapture'), transform: cachedCapture, indexers: captureIndexers, log: quiet });
    const nodes = informer<CachedNode>({ client, resource: core.nodes, transform: cachedNode, log: quiet });
    const kernelNodes = informer<CachedKernelNode>({ client, resource: ksleuth('KernelNode'), transform: cachedKernelNode, log: quiet });
    const tallies = new ChildTallies({ captures, nodes, kernelNodes });
    await Promise.all([captures.synced, nodes.synced, kernelNodes.synced]);
    const tally = tallies.of(investigation);
    expect(tally.size).toBe(0);

    const agree = async (what: string, size: number): Promise<void> => {
      let mine = '';
      let fresh = '';
      await eventually(
        what,
        async () => {
          mine = stableStringify(tallies.of(investigation).render(3, false));
          fresh = stableStringify((await recount(investigation)).render(3, false));
          return tallies.of(investigation).size === size && mine === fresh;
        },
        20_000,
        () => `tally ${mine}\nrecount ${fresh}`,
      );
    };

    const deadline = new Date(Date.now() + 600_000);
    for (const node of names) await client.create(ksleuth('KernelCapture'), buildCapture(investigation, node, deadline));
    await agree('three pending children', 3);

    const finding = {
      pattern: 'slab-growth',
      severity: 'warning',
      title: 'dentry grows',
      capture: 'slab',
      evidence: ['x'.repeat(500)],
      recommendation: 'look',
    };
    for (const node of names) {
      await client.patch(
        ksleuth('KernelCapture'),
        `tally-${node}`,
        {
          status: {
            phase: 'Succeeded',
            kernelVersion: '6.1.0',
            findingCount: 1,
            findings: [finding],
            results: [{ name: 'slab', kind: 'slab', state: 'Succeeded' }],
          },
        },
        { subresource: 'status' },
      );
    }
    await agree('three reported children', 3);
    const [merged] = tally.render(3, false).findings;
    expect(merged!.nodes).toEqual({ count: 3, examples: ['t1', 't2', 't3'] });
    expect(merged!.evidence[0]).toHaveLength(256);
    // the cache keeps only what the parent can show
    expect(captures.store.get('tally-t1')!.status!.findings![0]!.evidence[0]).toHaveLength(256);
    expect(Object.keys(captures.store.get('tally-t1')!.status!)).not.toContain('results');

    await client.patch(core.nodes, 't2', { metadata: { labels: { pool: 'db' } } });
    await agree('t2 moved to the db group', 3);
    expect(tally.render(3, false).comparison?.groups.map((g) => [g.value, g.nodes])).toEqual([
      ['db', 2],
      ['web', 1],
    ]);

    await client.delete(ksleuth('KernelCapture'), 'tally-t3');
    await agree('t3 gone', 2);

    // A child another incarnation of the name owns is not counted.
    const stranger = buildCapture({ ...investigation, metadata: { ...investigation.metadata, uid: 'an-older-uid' } }, 't3', deadline);
    await client.create<KernelCapture>(ksleuth('KernelCapture'), stranger);
    await eventually('the informer to see the stranger', () => captures.store.has(stranger.metadata.name!));
    expect(tallies.of(investigation).size).toBe(2);

    // compareBy changed: the next reconcile gets a tally grouped the new way.
    investigation = await client.patch<KernelInvestigation>(ksleuth('KernelInvestigation'), 'tally', {
      spec: { compareBy: { kernelVersion: true, nodeLabel: null } },
    });
    const regrouped = tallies.of(investigation);
    expect(regrouped).not.toBe(tally);
    expect(regrouped.render(3, false).comparison).toMatchObject({
      by: 'kernelVersion',
      groups: [{ value: '6.1.0', nodes: 2, reported: 2, patterns: ['slab-growth'] }],
    });

    // A child of the baseline window (spec.baseline.run) is tallied apart from the investigation's.
    const baselineChild = buildCapture(investigation, 't1', deadline, 'baseline');
    expect(baselineChild.metadata.name).toBe('tally-t1-baseline');
    expect(baselineChild.spec.baseline).toBe(true);
    await client.create<KernelCapture>(ksleuth('KernelCapture'), baselineChild);
    await eventually('the baseline tally to count it', () => tallies.of(investigation, 'baseline').size === 1);
    expect(tallies.of(investigation).size).toBe(2);
    expect(tallies.tracked).toBe(2);
    tallies.forgetBaseline('tally');
    expect(tallies.tracked).toBe(1);

    tallies.forget('tally');
    expect(tallies.tracked).toBe(0);
  });
});
