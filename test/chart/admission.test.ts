import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { sysctlValue } from '../../api/v1alpha1/common.js';
import { KubeClient, type KubeObject } from '../../lib/kube/client.js';
import { ApiError } from '../../lib/kube/errors.js';
import { core, ksleuth } from '../../lib/kube/resources.js';
import { issuer } from '../harness/cluster.js';
import { projectRoot } from '../../lib/paths.js';
import { checkSysctl, type AllowList } from '../../lib/sysctl/index.js';
import { useCluster } from '../helpers/cluster.js';
import { addNodes, allowListWith, helmInstall, namespace, until } from './chart.js';

// The chart installed with helm: its DaemonSet places a real agent pod on each simulated node, and
// the tests act with tokens the API server binds to those pods, as the kubelet's would be.
const cluster = useCluster({ scheduler: true, installCrds: false });

const captures = ksleuth('KernelCapture');
const kernelNodes = ksleuth('KernelNode');
const mitigations = ksleuth('KernelMitigation');
const investigations = ksleuth('KernelInvestigation');
const rbac = (plural: string) => ({ group: 'rbac.authorization.k8s.io', version: 'v1', plural });

const clients: KubeClient[] = [];
let agentA: KubeClient;
let unboundAgent: KubeClient;
let operator: KubeClient;

async function clientWithToken(token: string): Promise<KubeClient> {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'local', server: cluster().server, caData: (await readFile(cluster().pki.caCert)).toString('base64') }],
    users: [{ name: 'user', token }],
    contexts: [{ name: 'local', cluster: 'local', user: 'user' }],
    currentContext: 'local',
  });
  const client = new KubeClient(kc, 'ksleuth-chart-test');
  clients.push(client);
  return client;
}

/** A token of a ServiceAccount through the TokenRequest API, bound to a pod when one is given. */
async function tokenClient(ns: string, serviceAccount: string, pod?: KubeObject): Promise<KubeClient> {
  const boundObjectRef = pod ? { kind: 'Pod', apiVersion: 'v1', name: pod.metadata.name, uid: pod.metadata.uid } : undefined;
  const response = await cluster()
    .client()
    .request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${ns}/serviceaccounts/${serviceAccount}/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [issuer], expirationSeconds: 3600, boundObjectRef } },
    });
  return clientWithToken(response.status.token);
}

/** The agent pod the DaemonSet placed on a node. */
async function agentPod(node: string): Promise<KubeObject> {
  const pods = await cluster()
    .client()
    .list<KubeObject & { spec: { nodeName?: string } }>(core.pods(namespace), { labelSelector: 'app.kubernetes.io/component=agent' });
  const pod = pods.items.find((p) => p.spec.nodeName === node);
  if (!pod) throw new Error(`no agent pod on ${node}`);
  return pod;
}

/** The error a request fails with (fails the test when it succeeds). */
async function refusal(request: Promise<unknown>): Promise<ApiError> {
  const error = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ApiError)) throw new Error(`expected the API server to refuse the request, got ${error === undefined ? 'success' : String(error)}`);
  return error;
}

function capture(name: string, nodeName: string): unknown {
  return {
    apiVersion: 'ksleuth.io/v1alpha1',
    kind: 'KernelCapture',
    metadata: { name },
    spec: { investigation: 'inv', nodeName, captures: [{ slab: {} }], durationSeconds: 10, deadline: new Date(Date.now() + 3600_000).toISOString() },
  };
}

function mitigation(name: string, sysctls: { name: string; value: string }[]): unknown {
  return { apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelMitigation', metadata: { name }, spec: { sysctls } };
}

function investigation(name: string, program?: string): unknown {
  return {
    apiVersion: 'ksleuth.io/v1alpha1',
    kind: 'KernelInvestigation',
    metadata: { name },
    spec: { nodes: { names: ['node-a'] }, captures: [program ? { bpftrace: { program } } : { slab: {} }] },
  };
}

const heartbeat = () => ({ status: { heartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), agentVersion: 'test' } });
const program = 'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }';

/** A dry-run create of a one-sysctl mitigation: undefined when admitted, else the server's message. */
async function admitSysctl(index: number, name: string, value: string): Promise<string | undefined> {
  return cluster()
    .client()
    .create(mitigations, mitigation(`case-${index}`, [{ name, value }]), { dryRun: 'All' })
    .then(
      () => undefined,
      (e: unknown) => (e instanceof ApiError ? e.serverMessage : String(e)),
    );
}

/** Values at and beyond the bounds of every allow-listed key, badly formed ones, and keys outside the list. */
function sysctlCases(allowList: AllowList): [string, string][] {
  const cases: [string, string][] = [];
  for (const [name, entry] of allowList.sysctls) {
    if (entry.type === 'integer') {
      cases.push([name, String(entry.min)], [name, String(entry.max)], [name, String(entry.min - 1)], [name, String(entry.max + 1)]);
      cases.push([name, ` ${entry.max} `], [name, `0${entry.max}`], [name, `${entry.min}.0`], [name, '+1'], [name, 'on']);
    } else if (entry.type === 'tuple') {
      const mins = entry.fields.map((f) => f.min);
      const maxes = entry.fields.map((f) => f.max);
      const descending = entry.fields.map((f, i) => (i === 0 ? f.max : f.min));
      cases.push([name, mins.join(' ')], [name, maxes.join('  ')], [name, descending.join(' ')], [name, mins.slice(1).join(' ')]);
      cases.push(
        [name, [mins[0]! - 1, ...mins.slice(1)].join(' ')],
        [name, [...mins.slice(0, -1), maxes.at(-1)! + 1].join(' ')],
        [name, mins.map(() => 'x').join(' ')],
      );
    } else {
      cases.push([name, entry.values[0]!], [name, ` ${entry.values.at(-1)!}`], [name, 'no-such-algorithm'], [name, entry.values.slice(0, 2).join(' ')]);
    }
  }
  cases.push(
    ['kernel.panic', '10'],
    ['kernel.yama.ptrace_scope', '0'],
    ['vm.drop_caches', '3'],
    ['net.ipv4.tcp_early_retrans', '1'],
    ['vm.swappiness', '99999999999999999999999'],
  );
  return cases;
}

/** Sends every case through admission and returns those where the API server and the agent's check disagree. */
async function disagreements(allowList: AllowList): Promise<string[]> {
  const cases = sysctlCases(allowList);
  const results = await Promise.all(cases.map(([name, value], i) => admitSysctl(i, name, value)));
  const differ: string[] = [];
  cases.forEach(([name, value], i) => {
    const agent = checkSysctl(allowList, name, value);
    // The agent reads past another spelling ("03", " 3 "); the API takes only the kernel's own, so
    // that Git and the cluster hold one value (refused by the CRD's schema, before any policy).
    const canonical = sysctlValue.safeParse(value).success;
    const refusedByServer = results[i];
    if ((agent.ok && canonical) !== (refusedByServer === undefined))
      differ.push(
        `${name}=${JSON.stringify(value)}: agent ${agent.ok ? 'allows' : 'refuses'}${canonical ? '' : ' (not canonical)'}, admission ${refusedByServer ?? 'admits'}`,
      );
    else if (refusedByServer && canonical && !refusedByServer.includes(name))
      differ.push(`${name}=${JSON.stringify(value)}: the refusal does not name the sysctl: ${refusedByServer}`);
    else if (refusedByServer && !canonical && !refusedByServer.includes('write the value as the kernel prints it'))
      differ.push(`${name}=${JSON.stringify(value)}: the refusal does not say how to spell it: ${refusedByServer}`);
  });
  return differ;
}

describe("the chart's admission policies and RBAC on a real control plane", () => {
  beforeAll(async () => {
    await addNodes(cluster(), ['node-a', 'node-b']);
    await helmInstall(cluster());
    const admin = cluster().client();
    agentA = await tokenClient(namespace, 'ksleuth-agent', await agentPod('node-a'));
    unboundAgent = await tokenClient(namespace, 'ksleuth-agent');
    operator = await tokenClient(namespace, 'ksleuth-operator');
    await admin.create(captures, capture('cap-a', 'node-a'));
    await admin.create(captures, capture('cap-b', 'node-b'));
    await admin.create(kernelNodes, { apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelNode', metadata: { name: 'node-b' }, spec: {} });
    await admin.create(mitigations, mitigation('tfo-off', [{ name: 'net.ipv4.tcp_fastopen', value: '0' }]));
    // The policies take effect once the API server has loaded them.
    await until(
      'the admission policies to be active',
      async () =>
        (await admitSysctl(-1, 'kernel.panic', '1')) !== undefined &&
        (await agentA.patch(captures, 'cap-b', heartbeat(), { subresource: 'status' }).then(
          () => false,
          () => true,
        )),
    );
  }, 300_000);

  afterAll(() => {
    for (const client of clients) client.close();
  });

  describe("the agent identity (its ServiceAccount's token, bound to its pod on node-a)", () => {
    it('is refused reading Secrets', async () => {
      for (const path of [`/api/v1/namespaces/${namespace}/secrets`, '/api/v1/secrets', `/api/v1/namespaces/${namespace}/secrets/anything`]) {
        const error = await refusal(agentA.request('GET', path));
        expect(error.status).toBe(403);
        expect(error.serverMessage).toMatch(/system:serviceaccount:ksleuth-system:ksleuth-agent" cannot (list|get) resource "secrets"/);
      }
    });

    it('is refused writing any spec: KernelCapture, KernelNode, KernelMitigation, KernelInvestigation', async () => {
      const attempts: [string, () => Promise<unknown>][] = [
        ['patch kernelcaptures', () => agentA.patch(captures, 'cap-a', { spec: { durationSeconds: 20 } })],
        ['create kernelcaptures', () => agentA.create(captures, capture('cap-forged', 'node-a'))],
        ['patch kernelnodes', () => agentA.patch(kernelNodes, 'node-b', { spec: { sysctls: [] } })],
        ['create kernelmitigations', () => agentA.create(mitigations, mitigation('forged', [{ name: 'vm.swappiness', value: '10' }]))],
        ['patch kernelmitigations', () => agentA.patch(mitigations, 'tfo-off', { spec: { dryRun: true } })],
        ['create kernelinvestigations', () => agentA.create(investigations, investigation('forged'))],
      ];
      for (const [what, request] of attempts) {
        const error = await refusal(request());
        expect(error.status, what).toBe(403);
        expect(error.serverMessage, what).toMatch(new RegExp(`cannot ${what.replace(' ', ' resource "')}"`));
      }
    });

    it('is refused registering its KernelNode with sysctls in the spec', async () => {
      const error = await refusal(
        agentA.create(kernelNodes, {
          apiVersion: 'ksleuth.io/v1alpha1',
          kind: 'KernelNode',
          metadata: { name: 'node-a' },
          spec: { sysctls: [{ name: 'vm.swappiness', value: '10', mitigation: 'forged' }] },
        }),
      );
      expect(error.status).toBe(403);
      expect(error.serverMessage).toMatch(/ksleuth-agent-node-restriction.*creates its KernelNode with an empty spec/);
    });

    it("registers and reports its own node: KernelNode create and status, its KernelCapture's status", async () => {
      await agentA.create(kernelNodes, { apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelNode', metadata: { name: 'node-a' }, spec: {} });
      const node = await agentA.patch<KubeObject & { status: { agentVersion: string } }>(kernelNodes, 'node-a', heartbeat(), { subresource: 'status' });
      expect(node.status.agentVersion).toBe('test');
      const cap = await agentA.patch<KubeObject & { status: { phase: string } }>(
        captures,
        'cap-a',
        { status: { phase: 'Running' } },
        { subresource: 'status' },
      );
      expect(cap.status.phase).toBe('Running');
      // Reading its objects and watching them by field selector, as the agent does.
      const mine = await agentA.list(captures, { fieldSelector: 'spec.nodeName=node-a' });
      expect(mine.items.map((c) => c.metadata.name)).toEqual(['cap-a']);
    });

    it("is refused writing another node's KernelCapture or KernelNode, by the node restriction policy", async () => {
      const attempts: [string, () => Promise<unknown>, string][] = [
        [
          'capture status',
          () => agentA.patch(captures, 'cap-b', { status: { phase: 'Failed' } }, { subresource: 'status' }),
          'kernelcaptures/status cap-b, which belongs to node node-b',
        ],
        [
          'node status',
          () => agentA.patch(kernelNodes, 'node-b', heartbeat(), { subresource: 'status' }),
          'kernelnodes/status node-b, which belongs to node node-b',
        ],
        [
          'node registration',
          () => agentA.create(kernelNodes, { apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelNode', metadata: { name: 'node-c' }, spec: {} }),
          'kernelnodes node-c, which belongs to node node-c',
        ],
      ];
      for (const [what, request, subject] of attempts) {
        const error = await refusal(request());
        expect(error.status, what).toBe(403);
        expect(error.serverMessage, what).toContain("ValidatingAdmissionPolicy 'ksleuth-agent-node-restriction'");
        expect(error.serverMessage, what).toContain(`the ksleuth agent of node node-a may not write ${subject}`);
      }
      const capB = await cluster().client().get<KubeObject & { status?: { phase?: string } }>(captures, 'cap-b');
      expect(capB.status?.phase).toBeUndefined();
    });

    it('writes nothing with a token that is not bound to a pod on a node', async () => {
      const error = await refusal(unboundAgent.patch(captures, 'cap-a', { status: { phase: 'Failed' } }, { subresource: 'status' }));
      expect(error.status).toBe(403);
      expect(error.serverMessage).toMatch(/only with a token bound to a pod on a node \(authentication\.kubernetes\.io\/node-name is missing\)/);
    });

    it("leaves the operator free to mark any node's capture (the policy is for agents)", async () => {
      const cap = await operator.patch<KubeObject & { status: { phase: string } }>(
        captures,
        'cap-b',
        { status: { phase: 'TimedOut' } },
        { subresource: 'status' },
      );
      expect(cap.status.phase).toBe('TimedOut');
    });
  });

  describe('custom bpftrace programs', () => {
    let investigator: KubeClient;
    let colleague: KubeClient;

    beforeAll(async () => {
      const admin = cluster().client();
      await admin.create(core.namespaces, { metadata: { name: 'people' } });
      await admin.create(rbac('clusterroles'), {
        metadata: { name: 'investigator' },
        rules: [{ apiGroups: ['ksleuth.io'], resources: ['kernelinvestigations'], verbs: ['get', 'list', 'create', 'update', 'patch'] }],
      });
      for (const person of ['sre', 'colleague']) {
        await admin.create(core.serviceAccounts('people'), { metadata: { name: person, namespace: 'people' } });
        await admin.create(rbac('clusterrolebindings'), {
          metadata: { name: `investigator-${person}` },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'investigator' },
          subjects: [{ kind: 'ServiceAccount', name: person, namespace: 'people' }],
        });
      }
      investigator = await tokenClient('people', 'sre');
      colleague = await tokenClient('people', 'colleague');
      await until("the investigators' RBAC", async () => (await investigator.create(investigations, investigation('probe'), { dryRun: 'All' })) !== undefined);
    });

    it('are refused for everyone, with what to do, while customPrograms.enabled is false', async () => {
      for (const client of [cluster().client(), investigator]) {
        const error = await refusal(client.create(investigations, investigation('custom', program)));
        expect(error.status).toBe(403);
        expect(error.serverMessage).toMatch(
          /custom bpftrace programs are disabled in this cluster.*customPrograms\.enabled=true and bind the ClusterRole ksleuth-custom-programs/,
        );
      }
      await investigator.create(investigations, investigation('built-in-only'));
    });

    it('with customPrograms.enabled, need the custom-programs permission: refused without it, accepted with it', async () => {
      await helmInstall(cluster(), { customPrograms: { enabled: true } }, 'upgrade');
      const workloads = await cluster().kubectl([
        'get',
        'deployment,daemonset',
        '-n',
        namespace,
        '-o',
        'jsonpath={range .items[*]}{.spec.template.spec.containers[0].args}{"\\n"}{end}',
      ]);
      expect(
        workloads.stdout
          .trim()
          .split('\n')
          .every((args) => args.includes('--allow-custom-programs')),
      ).toBe(true);
      await until('the policy to check the permission', async () =>
        /may not run custom bpftrace programs/.test(
          (await refusal(investigator.create(investigations, investigation('custom', program), { dryRun: 'All' }))).serverMessage,
        ),
      );
      const error = await refusal(investigator.create(investigations, investigation('custom', program)));
      expect(error.status).toBe(403);
      expect(error.serverMessage).toContain('system:serviceaccount:people:sre may not run custom bpftrace programs');
      expect(error.serverMessage).toContain('verb "use" on kernelinvestigations/custom-programs in ksleuth.io');
      expect(error.serverMessage).toContain('binding the ClusterRole ksleuth-custom-programs');
      await cluster()
        .client()
        .create(rbac('clusterrolebindings'), {
          metadata: { name: 'custom-programs-sre' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'ksleuth-custom-programs' },
          subjects: [{ kind: 'ServiceAccount', name: 'sre', namespace: 'people' }],
        });
      await until(
        'the permission to take effect',
        async () => (await investigator.create(investigations, investigation('custom', program), { dryRun: 'All' })) !== undefined,
      );
      const created = await investigator.create<KubeObject>(investigations, investigation('custom', program));
      expect(created.metadata.name).toBe('custom');
    });

    it('check only requests that add or change a program: others may label an existing one, not rewrite it', async () => {
      const labelled = await colleague.patch<KubeObject>(investigations, 'custom', { metadata: { labels: { team: 'kernel' } } });
      expect(labelled.metadata.labels).toMatchObject({ team: 'kernel' });
      const error = await refusal(colleague.patch(investigations, 'custom', { spec: { captures: [{ bpftrace: { program: `${program} // changed` } }] } }));
      expect(error.serverMessage).toContain('system:serviceaccount:people:colleague may not run custom bpftrace programs');
    });
  });

  describe('the sysctl allow-list at admission', () => {
    it("refuses kernel.panic with the agent's reason, and accepts an allowed sysctl", async () => {
      const error = await refusal(
        cluster()
          .client()
          .create(mitigations, mitigation('no-panic', [{ name: 'kernel.panic', value: '10' }])),
      );
      expect(error.status).toBe(422);
      const reason = checkSysctl(await allowListWith(), 'kernel.panic', '10');
      expect(reason.ok).toBe(false);
      const because = /\((kernel\.panic is never allowed: [^)]+)\)/.exec(reason.ok ? '' : reason.reason)![1]!;
      expect(error.serverMessage).toContain(`KernelMitigation no-panic is refused: kernel.panic is not in the sysctl allow-list (${because})`);
      expect(error.serverMessage).toContain('config/sysctl-allowlist.yaml plus the chart value sysctlAllowlist.extra');
      const created = await cluster()
        .client()
        .create<KubeObject>(mitigations, mitigation('swappiness', [{ name: 'vm.swappiness', value: '100' }]));
      expect(created.metadata.name).toBe('swappiness');
    });

    it("agrees with the agent's checkSysctl on every allow-listed key at and beyond its bounds", async () => {
      expect(await disagreements(await allowListWith())).toEqual([]);
    });

    it('checks a mitigation of 32 sysctls (the most the API takes) within the CEL cost budget, naming each refusal', async () => {
      const allowList = await allowListWith();
      const sysctls = [...allowList.sysctls.values()].slice(0, 32).map((entry) => ({
        name: entry.name,
        value: entry.type === 'integer' ? String(entry.max) : entry.type === 'tuple' ? entry.fields.map((f) => f.max).join(' ') : entry.values[0]!,
      }));
      expect(sysctls).toHaveLength(32);
      await cluster().client().create(mitigations, mitigation('many', sysctls), { dryRun: 'All' });
      const broken = sysctls.map((s, i) => (i % 2 === 0 ? { ...s, value: `${s.value}9` } : s));
      const error = await refusal(
        cluster()
          .client()
          .create(mitigations, { ...(mitigation('', broken) as object), metadata: { generateName: 'many-' } }, { dryRun: 'All' }),
      );
      expect(error.serverMessage).toMatch(/KernelMitigation many-\w+ is refused: /);
      for (const s of broken.filter((_, i) => i % 2 === 0)) expect(error.serverMessage).toContain(s.name);
    });

    it('enforces the extras after helm upgrade, and never blocks updates that leave the sysctls alone', async () => {
      const extra = parse(await readFile(join(projectRoot, 'test', 'fixtures', 'sysctl', 'allowlist-extra.yaml'), 'utf8'));
      await helmInstall(cluster(), { sysctlAllowlist: { extra } }, 'upgrade');
      await until('the narrowed vm.swappiness', async () => (await admitSysctl(-2, 'vm.swappiness', '100')) !== undefined);
      expect(await disagreements(await allowListWith(extra))).toEqual([]);
      // vm.swappiness=100 is outside the narrowed 0..60 now, yet the operator can still add its
      // finalizer and the mitigation can be relabelled; changing its value is checked.
      const updated = await cluster()
        .client()
        .patch<KubeObject>(mitigations, 'swappiness', { metadata: { finalizers: ['ksleuth.io/revert'], labels: { bug: 'reclaim' } } });
      expect(updated.metadata.finalizers).toEqual(['ksleuth.io/revert']);
      const error = await refusal(
        cluster()
          .client()
          .patch(mitigations, 'swappiness', { spec: { sysctls: [{ name: 'vm.swappiness', value: '90' }] } }),
      );
      expect(error.serverMessage).toContain('vm.swappiness=90 is out of range 0..60');
      await cluster()
        .client()
        .patch(mitigations, 'swappiness', { metadata: { finalizers: null } });
    });
  });
});
