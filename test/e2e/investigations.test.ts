import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { resolveCaptureEntry } from '../../api/v1alpha1/capture-entry.js';
import type { KernelCapture, KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { resolveWorkload } from '../../api/v1alpha1/workloads.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { projectRoot } from '../../lib/paths.js';
import { sha256File } from '../../node-agent/engine/artifacts.js';
import { useKsleuth } from '../helpers/ksleuth.js';

const run = promisify(execFile);
const examples = join(projectRoot, 'manifests', 'examples');
const cli = join(projectRoot, 'bin', 'ksleuth');

const labels = [
  { pool: 'ingress', 'node.kubernetes.io/instance-type': 'm5.large' },
  { pool: 'database', 'node.kubernetes.io/instance-type': 'm5.large' },
  { pool: 'database', 'node.kubernetes.io/instance-type': 'c5.xlarge' },
];
const system = useKsleuth({ agents: 3, nodeLabels: (i) => labels[i]! });

let stuckSockets: ChildProcess | undefined;
let names: string[] = [];

async function investigation(name: string): Promise<KernelInvestigation> {
  return system().client.get<KernelInvestigation>(ksleuth('KernelInvestigation'), name);
}

async function capturesOf(name: string): Promise<KernelCapture[]> {
  return (await system().client.list<KernelCapture>(ksleuth('KernelCapture'), { fieldSelector: `spec.investigation=${name}` })).items;
}

/** A kubeconfig for a person (a ServiceAccount token), bound to the artifact-reader role or not. */
async function personKubeconfig(name: string, canRead: boolean): Promise<string> {
  const s = system();
  // A reader is bound to ksleuth-artifact-reader; anyone else may read investigations and
  // captures, but not get captureartifacts/files in artifacts.ksleuth.io.
  const reads = canRead
    ? `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ${name}-reads-artifacts}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ksleuth-artifact-reader}
subjects: [{kind: ServiceAccount, name: ${name}, namespace: team}]
`
    : `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ${name}-viewer}
rules: [{apiGroups: [ksleuth.io], resources: [kernelinvestigations, kernelcaptures, kernelnodes], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ${name}-viewer}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${name}-viewer}
subjects: [{kind: ServiceAccount, name: ${name}, namespace: team}]
`;
  await s.cluster.kubectl(['apply', '-f', '-'], { input: reads });
  return s.cluster.tokenKubeconfig({ namespace: 'team', serviceAccount: name });
}

describe('investigations end to end', () => {
  beforeAll(async () => {
    // An application on node-1 that stopped reading: sockets in CLOSE_WAIT with data queued.
    stuckSockets = spawn(
      'ip',
      ['netns', 'exec', system().agent('node-1').host.netns, 'node', join(projectRoot, 'test', 'helpers', 'close-wait-sockets.mjs'), '6', '18080'],
      { stdio: 'ignore' },
    );
    const files = (await readdir(examples)).filter((f) => f.startsWith('investigation-'));
    names = [];
    for (const file of files) names.push((parse(await readFile(join(examples, file), 'utf8')) as { metadata: { name: string } }).metadata.name);
    for (const file of files) await system().cluster.kubectl(['apply', '-f', join(examples, file)]);
    await system().waitFor(
      'every example investigation to finish',
      async () => {
        const phases = await Promise.all(names.map(async (n) => (await investigation(n)).status?.phase));
        return phases.every((p) => p === 'Completed' || p === 'Failed');
      },
      420_000,
    );
  }, 480_000);

  afterAll(() => {
    stuckSockets?.kill('SIGKILL');
  });

  it('completes every example investigation with one KernelCapture per node and results for every capture', async () => {
    expect(names.length).toBeGreaterThanOrEqual(4);
    for (const name of names) {
      const inv = await investigation(name);
      const complete = inv.status?.conditions?.find((c) => c.type === 'Complete');
      expect(inv.status?.phase, `${name}: ${complete?.message}`).toBe('Completed');
      expect(complete, `${name}: ${complete?.message}`).toMatchObject({ status: 'True', reason: 'AllNodesReported' });
      const all = await capturesOf(name);
      const captures = all.filter((c) => !c.spec.baseline);
      expect(captures.length, name).toBe(inv.status?.targetNodes);
      // With a baseline window (spec.baseline.run), one more per node before, without the workload.
      const baselineWindow = all.filter((c) => c.spec.baseline);
      expect(baselineWindow.map((c) => c.spec.nodeName).sort(), name).toEqual(inv.spec.baseline?.run ? captures.map((c) => c.spec.nodeName).sort() : []);
      for (const capture of baselineWindow) {
        expect(capture.spec.workload).toBeUndefined();
        expect(capture.status?.results?.map((r) => r.name).sort()).toEqual(inv.spec.captures.map((c) => resolveCaptureEntry(c).name).sort());
      }
      expect(new Set(captures.map((c) => c.spec.nodeName)).size).toBe(captures.length);
      for (const capture of captures) {
        expect(capture.status?.phase, `${capture.metadata.name}: ${capture.status?.message}`).toBe('Succeeded');
        // One result per capture, and one for the reproducer where the example runs one (spec.workload).
        expect(capture.status?.results?.map((r) => r.name).sort()).toEqual(
          [...inv.spec.captures.map((c) => resolveCaptureEntry(c).name), ...(inv.spec.workload ? [resolveWorkload(inv.spec.workload).name] : [])].sort(),
        );
        for (const result of capture.status?.results ?? []) {
          expect(result.state, `${capture.metadata.name} ${result.name}: ${result.message}`).toBe('Succeeded');
          expect(Object.keys(result.summary ?? {}).length, `${capture.metadata.name} ${result.name} has a summary`).toBeGreaterThan(0);
        }
        expect(capture.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'KernelInvestigation', name, controller: true });
      }
    }
  });

  it('picks the nodes each example asks for', async () => {
    expect((await investigation('quick-health')).status?.targetNodes).toBe(3);
    expect((await capturesOf('slow-checkpoints')).map((c) => c.spec.nodeName).sort()).toEqual(['node-2', 'node-3']);
    expect((await capturesOf('connection-hangs')).map((c) => c.spec.nodeName)).toEqual(['node-1']);
    expect((await investigation('reproduce-against-baseline')).status?.baseline?.nodes).toBe(1);
    const allocation = await investigation('allocation-failures');
    expect(allocation.status?.targetNodes).toBe(3);
    const { stdout } = await system().cluster.kubectl(['get', 'events', '-n', 'default', '--field-selector', 'involvedObject.name=allocation-failures']);
    expect(stdout).toMatch(/NodesLeftOut.*2 nodes not found \(worker-1, worker-2\)/);
  });

  it('reports the CLOSE_WAIT backlog on the node that has it, with evidence', async () => {
    const inv = await investigation('connection-hangs');
    const finding = inv.status?.findings?.find((f) => f.pattern === 'tcp-close-wait-backlog');
    expect(finding, JSON.stringify(inv.status?.findings?.map((f) => f.pattern))).toBeDefined();
    expect(finding!.nodes).toEqual({ count: 1, examples: ['node-1'] });
    expect(finding!.evidence.join('\n')).toMatch(/18080/);
    const quick = await investigation('quick-health');
    expect(quick.status?.findings?.find((f) => f.pattern === 'tcp-close-wait-backlog')?.nodes.examples).toEqual(['node-1']);
    expect(quick.status?.findingCount).toBeGreaterThan(0);
  });

  it('compares nodes by the label the investigation names', async () => {
    const inv = await investigation('allocation-failures');
    expect(inv.status?.comparison?.by).toBe('node.kubernetes.io/instance-type');
    expect(inv.status?.comparison?.groups.map((g) => [g.value, g.nodes, g.reported])).toEqual([
      ['m5.large', 2, 2],
      ['c5.xlarge', 1, 1],
    ]);
  });

  it('prints status and findings with ksleuth get', async () => {
    const { stdout } = await run(cli, ['get', 'connection-hangs', '--kubeconfig', system().cluster.kubeconfigPath]);
    expect(stdout).toMatch(/Phase:\s+Completed/);
    expect(stdout).toMatch(/SEVERITY\s+PATTERN\s+NODES\s+TITLE/);
    expect(stdout).toMatch(/tcp-close-wait-backlog\s+1/);
    expect(stdout).toMatch(/NODE\s+PHASE\s+FINDINGS\s+ARTIFACTS\s+MESSAGE/);
    const list = await run(cli, ['get', '--kubeconfig', system().cluster.kubeconfigPath]);
    for (const name of names) expect(list.stdout).toContain(name);
  });

  it('lets an authorized user download the artifacts, each matching its sha256', async () => {
    const kubeconfig = await personKubeconfig('sre', true);
    const out = await mkdtemp(join(tmpdir(), 'ksleuth-artifacts-'));
    const { stdout } = await run(cli, ['artifacts', 'get', 'quick-health', '--out', out, '--kubeconfig', kubeconfig]);
    expect(stdout).toMatch(/sha256 ok/);
    expect(stdout).not.toMatch(/failed|MISMATCH/);
    const captures = await capturesOf('quick-health');
    let files = 0;
    for (const capture of captures) {
      for (const ref of capture.status?.artifacts ?? []) {
        expect(await sha256File(join(out, capture.spec.nodeName, ref.name))).toBe(ref.sha256);
        files++;
      }
    }
    expect(files).toBeGreaterThan(0);
    expect(captures.some((c) => c.status?.artifacts?.some((a) => a.name.endsWith('.svg')))).toBe(true);
    const bundle = await run(cli, ['artifacts', 'get', 'allocation-failures', '--node', 'node-2', '--out', out, '--kubeconfig', kubeconfig]);
    expect(bundle.stdout).toMatch(/node-2\s+bundle.*\.tar\.gz.*sha256 ok/);
  });

  it('refuses artifacts to a user without the artifact-reader role', async () => {
    const kubeconfig = await personKubeconfig('intruder', false);
    const out = await mkdtemp(join(tmpdir(), 'ksleuth-artifacts-'));
    const result = await run(cli, ['artifacts', 'get', 'quick-health', '--out', out, '--kubeconfig', kubeconfig]).then(
      () => 'allowed',
      (error: { stdout: string; stderr: string }) => error.stdout + error.stderr,
    );
    expect(result).toMatch(/403: .*cannot get resource "captureartifacts\/files" in API group "artifacts\.ksleuth\.io"/);
  });
});
