import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { apiVersion } from '../../../api/v1alpha1/common.js';
import type { KernelCapture, KernelInvestigation } from '../../../api/v1alpha1/resources.js';
import { KubeClient, type ResourceRef, type WatchOptions } from '../../../lib/kube/client.js';
import { ksleuth } from '../../../lib/kube/resources.js';
import { buildCapture } from '../../../operator/investigation/children.js';
import { Agent } from '../../../node-agent/agent/agent.js';
import { standInFacts, standInMemoryCapture } from '../../../bench/stand-in-capture.js';
import { useCluster } from '../../helpers/cluster.js';
import { eventually } from '../../runtime/helpers.js';

const cluster = useCluster({ controllerManager: false, kwok: false });
const silent = pino({ level: 'silent' });
let stateDir: string | undefined;
afterAll(async () => {
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('the agent at scale', () => {
  it('lists and watches only its own node’s KernelCaptures and KernelNode, and writes two statuses per capture', async () => {
    const admin = cluster().client();
    const investigation = await admin.create<KernelInvestigation>(ksleuth('KernelInvestigation'), {
      apiVersion,
      kind: 'KernelInvestigation',
      metadata: { name: 'scope' },
      spec: { nodes: { names: ['scope-a', 'scope-b'] }, durationSeconds: 1, captures: [{ memory: {} }] },
    });
    const deadline = new Date(Date.now() + 600_000);
    const mine = [
      buildCapture(investigation, 'scope-a', deadline),
      buildCapture({ ...investigation, metadata: { ...investigation.metadata, name: 'scope-2' } }, 'scope-a', deadline),
    ];
    const others = [buildCapture(investigation, 'scope-b', deadline)];
    for (const c of [...mine, ...others]) await admin.create(ksleuth('KernelCapture'), c);

    // The agent's own client, with its reads and writes recorded.
    const client = KubeClient.load(cluster().kubeconfigPath, 'ksleuth-agent-scope');
    const reads: { plural: string; fieldSelector?: string; labelSelector?: string }[] = [];
    const writes: string[] = [];
    const watch = client.watch.bind(client);
    client.watch = ((ref: ResourceRef, options: WatchOptions = {}) => {
      reads.push({ plural: ref.plural, fieldSelector: options.fieldSelector, labelSelector: options.labelSelector });
      return watch(ref, options);
    }) as typeof client.watch;
    client.onRequest((method, path) => {
      if (method === 'PATCH' || method === 'PUT' || method === 'POST') writes.push(`${method} ${path}`);
    });
    const request = client.request.bind(client);
    client.request = ((method: string, path: string, options = {}) => {
      if (method === 'GET' && /\/(kernelcaptures|kernelnodes)$/.test(path)) {
        const query = options.query ?? {};
        reads.push({
          plural: path.split('/').pop()!,
          fieldSelector: query.fieldSelector as string | undefined,
          labelSelector: query.labelSelector as string | undefined,
        });
      }
      return request(method, path, options);
    }) as typeof client.request;

    stateDir = await mkdtemp(join(tmpdir(), 'ksleuth-scope-'));
    const agent = await Agent.start({
      config: {
        nodeName: 'scope-a',
        operatorIdentity: 'system:serviceaccount:ksleuth-system:ksleuth-operator',
        stateDir,
        artifactDir: join(stateDir, 'artifacts'),
        artifactPort: 0,
        artifactMaxBytes: 1024 ** 3,
        artifactMaxAgeSeconds: 3600,
        healthPort: 0,
        maxConcurrentCaptures: 2,
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
      },
      client,
      standIn: { facts: standInFacts('scope-a'), modules: { memory: standInMemoryCapture } },
      log: silent,
    });
    try {
      await eventually('the agent to finish its two captures', async () => {
        const phases = await Promise.all(mine.map(async (c) => (await admin.get<KernelCapture>(ksleuth('KernelCapture'), c.metadata.name!)).status?.phase));
        return phases.every((p) => p === 'Succeeded');
      });
      // The other node's capture is not touched, and the agent never asked for it.
      expect((await admin.get<KernelCapture>(ksleuth('KernelCapture'), others[0]!.metadata.name!)).status).toBeUndefined();
      expect(reads.filter((r) => r.plural === 'kernelcaptures').length).toBeGreaterThanOrEqual(2);
      for (const r of reads) {
        if (r.plural === 'kernelcaptures') expect(r).toEqual({ plural: 'kernelcaptures', fieldSelector: 'spec.nodeName=scope-a', labelSelector: undefined });
        if (r.plural === 'kernelnodes') expect(r).toEqual({ plural: 'kernelnodes', fieldSelector: 'metadata.name=scope-a', labelSelector: undefined });
      }
      const captureWrites = writes.filter((w) => w.includes('/kernelcaptures/'));
      for (const c of mine)
        expect(captureWrites.filter((w) => w === `PATCH /apis/ksleuth.io/v1alpha1/kernelcaptures/${c.metadata.name}/status`)).toHaveLength(2);
      expect(captureWrites).toHaveLength(4);
    } finally {
      await agent.stop();
      client.close();
    }
  });
});
