import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { registeredRules } from '../../api/cel.js';
import { openApiSchema } from '../../api/crd.js';
import { resources, type KernelCapture } from '../../api/v1alpha1/index.js';
import { KubeClient, type KubeObject, type ResourceRef } from '../../lib/kube/client.js';
import { isForbidden } from '../../lib/kube/errors.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { projectRoot } from '../../lib/paths.js';
import { ruleExamples, transitionExamples } from '../api/cel-examples.js';
import { useCluster } from '../helpers/cluster.js';

const cluster = useCluster({ controllerManager: false, kwok: false });
const examples = join(projectRoot, 'manifests', 'examples');

function capture(name: string): KernelCapture {
  return {
    apiVersion: 'ksleuth.io/v1alpha1',
    kind: 'KernelCapture',
    metadata: { name },
    spec: {
      investigation: 'quick-health',
      nodeName: 'worker-1',
      captures: [{ memory: { intervalSeconds: 5 } }],
      durationSeconds: 20,
      deadline: '2030-01-01T00:00:00Z',
    },
  } as KernelCapture;
}

describe('the ksleuth API on a real API server', () => {
  it('every CRD is Established', async () => {
    for (const def of Object.values(resources)) {
      const crd = await cluster()
        .client()
        .get<{ status: { conditions: { type: string; status: string }[] } }>(
          { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' },
          `${def.plural}.ksleuth.io`,
        );
      expect(crd.status.conditions.find((c) => c.type === 'Established')?.status, def.kind).toBe('True');
    }
  });

  it('applies every valid example with kubectl apply -f', async () => {
    const files = (await readdir(examples)).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const file of files) {
      const { stdout } = await cluster().kubectl(['apply', '-f', join(examples, file)]);
      expect(stdout, file).toMatch(/created|configured|unchanged/);
    }
    const { stdout } = await cluster().kubectl(['get', 'kinv,kmit', '-o', 'name']);
    expect(stdout).toContain('kernelinvestigation.ksleuth.io/quick-health');
    expect(stdout).toContain('kernelmitigation.ksleuth.io/disable-tcp-fastopen');
  });

  it('applies defaults from the schema', async () => {
    const inv = await cluster()
      .client()
      .get<{ spec: { ttlSecondsAfterFinished: number; captures: { cpuProfile?: { topN: number } }[] } }>(ksleuth('KernelInvestigation'), 'quick-health');
    expect(inv.spec.ttlSecondsAfterFinished).toBe(604800);
    expect(inv.spec.captures.find((c) => c.cpuProfile)?.cpuProfile?.topN).toBe(20);
  });

  it('refuses every invalid example with a message that names the field', async () => {
    const dir = join(examples, 'invalid');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(8);
    for (const file of files) {
      const text = await readFile(join(dir, file), 'utf8');
      const expected = [...text.matchAll(/^# expect: (.+)$/gm)].map((m) => m[1]!);
      expect(expected.length, `${file} names what the error must say`).toBeGreaterThan(0);
      const error = await cluster()
        .kubectl(['apply', '-f', join(dir, file)])
        .then(
          () => undefined,
          (e: Error & { stderr: string }) => e.stderr,
        );
      expect(error, `${file} was accepted`).toBeDefined();
      for (const fragment of expected) expect(error, file).toContain(fragment);
    }
  });

  it('keeps spec and status apart: a status write leaves spec, a spec write leaves status', async () => {
    const client = cluster().client();
    const ref = ksleuth('KernelCapture');
    await client.create(ref, capture('separation'));
    await client.patch(ref, 'separation', { spec: { durationSeconds: 999 }, status: { phase: 'Running' } }, { subresource: 'status' });
    let current = await client.get<KernelCapture>(ref, 'separation');
    expect(current.status?.phase).toBe('Running');
    expect(current.spec.durationSeconds).toBe(20);

    const updated = { ...current, status: { phase: 'Failed' } } as KernelCapture;
    await client.replace(ref, 'separation', updated);
    current = await client.get<KernelCapture>(ref, 'separation');
    expect(current.status?.phase).toBe('Running');
  });

  it('keeps a KernelCapture spec immutable', async () => {
    const client = cluster().client();
    const ref = ksleuth('KernelCapture');
    await client.create(ref, capture('immutable'));
    await expect(client.patch(ref, 'immutable', { spec: { durationSeconds: 30 } })).rejects.toThrow(/spec is immutable/);
  });

  it('keeps a finished capture’s phase: a late writer cannot turn TimedOut into Succeeded', async () => {
    const client = cluster().client();
    const ref = ksleuth('KernelCapture');
    await client.create(ref, capture('final'));
    await client.patch(ref, 'final', { status: { phase: 'Running' } }, { subresource: 'status' });
    await client.patch(ref, 'final', { status: { phase: 'TimedOut', message: 'deadline' } }, { subresource: 'status' });
    await expect(client.patch(ref, 'final', { status: { phase: 'Succeeded' } }, { subresource: 'status' })).rejects.toThrow(
      /status.phase.*a finished capture keeps its phase/,
    );
    // Other fields of a finished status may still change; the phase does not.
    await client.patch(ref, 'final', { status: { message: 'deadline (noted)' } }, { subresource: 'status' });
    expect((await client.get<KernelCapture>(ref, 'final')).status).toMatchObject({ phase: 'TimedOut', message: 'deadline (noted)' });
  });

  it('enforces RBAC: status writes only, no spec updates, for a narrowly bound ServiceAccount', async () => {
    const c = cluster();
    await c.kubectl(['apply', '-f', '-'], {
      input: `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: capture-status-writer}
rules:
  - apiGroups: [ksleuth.io]
    resources: [kernelcaptures]
    verbs: [get, list, watch]
  - apiGroups: [ksleuth.io]
    resources: [kernelcaptures/status]
    verbs: [get, update, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: capture-status-writer}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: capture-status-writer}
subjects:
  - {kind: ServiceAccount, name: narrow, namespace: rbac-test}
`,
    });
    await c.client().create(ksleuth('KernelCapture'), capture('rbac'));
    const narrow = KubeClient.load(await c.tokenKubeconfig({ namespace: 'rbac-test', serviceAccount: 'narrow' }));
    try {
      const ref = ksleuth('KernelCapture');
      expect((await narrow.get<KernelCapture>(ref, 'rbac')).spec.nodeName).toBe('worker-1');
      await narrow.patch(ref, 'rbac', { status: { phase: 'Succeeded' } }, { subresource: 'status' });
      const specWrite = await narrow.patch(ref, 'rbac', { metadata: { labels: { x: 'y' } } }).catch((e: unknown) => e);
      expect(isForbidden(specWrite), String(specWrite)).toBe(true);
      const other = await narrow.list(ksleuth('KernelMitigation')).catch((e: unknown) => e);
      expect(isForbidden(other)).toBe(true);
    } finally {
      narrow.close();
    }
  });

  it('kubectl get prints columns that tell the story', async () => {
    const client = cluster().client();
    await client.patch(
      ksleuth('KernelInvestigation'),
      'quick-health',
      {
        status: { phase: 'Running', progress: '2/3', findingCount: 4, highestSeverity: 'warning' },
      },
      { subresource: 'status' },
    );
    await client.create(ksleuth('KernelNode'), {
      apiVersion: 'ksleuth.io/v1alpha1',
      kind: 'KernelNode',
      metadata: { name: 'worker-1' },
      spec: {},
    });
    await client.patch(
      ksleuth('KernelNode'),
      'worker-1',
      {
        status: { kernelVersion: '6.1.0-18-amd64', sysctlSummary: '1/1', heartbeatTime: new Date().toISOString(), agentVersion: '0.1.0' },
      },
      { subresource: 'status' },
    );
    const { stdout } = await cluster().kubectl(['get', 'kinv,kcap,kmit,knode']);
    expect(stdout).toMatch(/NAME\s+PHASE\s+NODES\s+FINDINGS\s+SEVERITY\s+BASELINE\s+AGE/);
    expect(stdout).toMatch(/quick-health\s+Running\s+2\/3\s+4\s+warning/);
    expect(stdout).toMatch(/NAME\s+NODE\s+INVESTIGATION\s+PHASE\s+FINDINGS\s+AGE/);
    expect(stdout).toMatch(/NAME\s+APPLIED\s+PODS\s+MATCHED\s+SKIPPED\s+FAILED\s+READY\s+CONFLICT\s+AGE/);
    expect(stdout).toMatch(/NAME\s+KERNEL\s+FINDINGS\s+SEVERITY\s+AGENT\s+SYSCTLS\s+HEARTBEAT\s+AGE/);
    expect(stdout).toMatch(/worker-1\s+6\.1\.0-18-amd64\s+1\/1\s+\d+s/);
  });
});

/** A throwaway CRD whose spec.value has the schema a rule is attached to: the API server runs the rule as it would in place. */
async function ruleHost(index: number, schema: z.ZodType): Promise<ResourceRef & { kind: string }> {
  const plural = `celchecks${index}`;
  const group = 'test.ksleuth.io';
  await cluster()
    .client()
    .create(
      { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' },
      {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: `${plural}.${group}` },
        spec: {
          group,
          names: { kind: `CelCheck${index}`, plural, singular: `celcheck${index}`, listKind: `CelCheck${index}List` },
          scope: 'Cluster',
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: { spec: { type: 'object', required: ['value'], properties: { value: openApiSchema(schema, 'spec.value') } } },
                },
              },
            },
          ],
        },
      },
    );
  const ref = { group, version: 'v1', plural };
  const deadline = Date.now() + 30_000;
  while (
    !(await cluster()
      .client()
      .list(ref)
      .then(
        () => true,
        () => false,
      ))
  ) {
    if (Date.now() > deadline) throw new Error(`${plural}.${group} was not served within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { ...ref, kind: `CelCheck${index}` };
}

describe('every CEL rule on the real API server agrees with its zod twin', () => {
  it('accepts each pass example and refuses each fail example with the rule’s message', async () => {
    const client = cluster().client();
    const verdict = (promise: Promise<unknown>): Promise<string> =>
      promise.then(
        () => 'accepted',
        (error: Error) => error.message,
      );
    for (const [index, { schema, rules }] of registeredRules.entries()) {
      const host = await ruleHost(index, schema);
      const object = (name: string, value: unknown) => ({ apiVersion: `${host.group}/v1`, kind: host.kind, metadata: { name }, spec: { value } });
      let n = 0;
      for (const rule of rules) {
        if (!rule.transition) {
          const examples = ruleExamples[rule.message]!;
          for (const value of examples.pass)
            expect(await verdict(client.create(host, object(`e${n++}`, value))), `${rule.message}: ${JSON.stringify(value)}`).toBe('accepted');
          for (const value of examples.fail) {
            expect(schema.safeParse(value).success).toBe(false);
            expect(await verdict(client.create(host, object(`e${n++}`, value))), `${rule.message}: ${JSON.stringify(value)}`).toContain(rule.message);
          }
          continue;
        }
        const examples = transitionExamples[rule.message]!;
        for (const [i, { old, next }] of [...examples.pass, ...examples.fail].entries()) {
          const name = `e${n++}`;
          const stored = await client.create<KubeObject>(host, object(name, old));
          const result = await verdict(
            client.replace(host, name, { ...object(name, next), metadata: { name, resourceVersion: stored.metadata.resourceVersion } }),
          );
          if (i < examples.pass.length) expect(result, `${rule.message}: ${JSON.stringify({ old, next })}`).toBe('accepted');
          else expect(result, `${rule.message}: ${JSON.stringify({ old, next })}`).toContain(rule.message);
        }
      }
    }
  });
});
