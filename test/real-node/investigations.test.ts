import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { KernelCapture, KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { projectRoot } from '../../lib/paths.js';
import { sha256File } from '../../node-agent/engine/artifacts.js';
import { until } from '../chart/chart.js';
import { podProcesses, readyAgent, useKsleuthRelease } from '../helpers/real-node.js';

const run = promisify(execFile);
const examples = join(projectRoot, 'manifests', 'examples');
const cli = join(projectRoot, 'bin', 'ksleuth');
const release = useKsleuthRelease();

interface Example {
  metadata: { name: string };
  spec: { nodes: unknown; captures: unknown[] };
}

let names: string[] = [];
/** Command names seen in the agent pod's cgroup while the investigations ran. */
const seenInAgent = new Set<string>();

async function investigation(name: string): Promise<KernelInvestigation> {
  return release().cluster.client().get<KernelInvestigation>(ksleuth('KernelInvestigation'), name);
}

async function capturesOf(name: string): Promise<KernelCapture[]> {
  return (
    await release()
      .cluster.client()
      .list<KernelCapture>(ksleuth('KernelCapture'), { fieldSelector: `spec.investigation=${name}` })
  ).items;
}

describe('every example investigation on the real node, run by the agent in its container', () => {
  beforeAll(async () => {
    const { cluster, node } = release();
    const agent = await readyAgent(cluster);
    const files = (await readdir(examples)).filter((f) => f.startsWith('investigation-'));
    names = [];
    for (const file of files) {
      const example = parse(await readFile(join(examples, file), 'utf8')) as Example;
      // The one real node stands for the pools the examples select (the simulated-node end-to-end
      // tests check the node selection); everything else is the example as shipped.
      example.spec.nodes = { names: [node.name] };
      names.push(example.metadata.name);
      await cluster.kubectl(['apply', '-f', '-'], { input: stringify(example) });
    }
    await until(
      'every example investigation to finish',
      async () => {
        for (const p of podProcesses(agent.metadata.uid!)) seenInAgent.add(p.comm);
        const phases = await Promise.all(names.map(async (n) => (await investigation(n)).status?.phase));
        return phases.every((p) => p === 'Completed' || p === 'Failed');
      },
      480_000,
    );
  }, 600_000);

  it('completes every example with each capture Succeeded, or Unsupported with the reason', async () => {
    expect(names.length).toBeGreaterThanOrEqual(4);
    let succeeded = 0;
    for (const name of names) {
      const inv = await investigation(name);
      const complete = inv.status?.conditions?.find((c) => c.type === 'Complete');
      expect(inv.status?.phase, `${name}: ${complete?.message}`).toBe('Completed');
      const captures = await capturesOf(name);
      const capture = captures.find((c) => !c.spec.baseline);
      // One result per capture, and one for the reproducer where the example runs one (spec.workload).
      expect(capture?.status?.results?.length, name).toBe(inv.spec.captures.length + (inv.spec.workload ? 1 : 0));
      // A baseline window (spec.baseline.run) ran the same captures without the reproducer first.
      const baselineWindow = captures.find((c) => c.spec.baseline);
      expect(baselineWindow?.status?.results?.length, name).toBe(inv.spec.baseline?.run ? inv.spec.captures.length : undefined);
      for (const result of capture!.status!.results!) {
        const label = `${name} ${result.name}: ${result.reason} ${result.message}`;
        expect(['Succeeded', 'Unsupported'], label).toContain(result.state);
        if (result.state === 'Unsupported') expect(result.message, label).toMatch(/\S{10,}/);
        else succeeded++;
      }
    }
    expect(succeeded).toBeGreaterThanOrEqual(10);
  });

  it('ran bpftrace and perf inside the agent container (its pod’s cgroup), reading the kernel log through syslog(2)', async () => {
    expect([...seenInAgent]).toEqual(expect.arrayContaining(['bpftrace', 'perf']));
    // A container that is not privileged may not open /dev/kmsg (its device cgroup refuses it):
    // the kernel-log capture read the log through syslog(2) with CAP_SYSLOG.
    const [capture] = await capturesOf('quick-health');
    expect(capture?.status?.results?.find((r) => r.kind === 'kernel-log')?.state).toBe('Succeeded');
  });

  it('downloads the artifacts through the artifacts API (APIService → operator pod → agent pod), each matching its sha256', async () => {
    const { cluster } = release();
    // An SRE with the chart's artifact-reader ClusterRole, by a token.
    await cluster.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: sre-reads-artifacts}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ksleuth-artifact-reader}
subjects: [{kind: ServiceAccount, name: sre, namespace: team}]
`,
    });
    const kubeconfig = await cluster.tokenKubeconfig({ namespace: 'team', serviceAccount: 'sre' });
    const out = await mkdtemp(join(tmpdir(), 'ksleuth-artifacts-'));
    let files = 0;
    const kinds: string[] = [];
    for (const name of names) {
      const { stdout } = await run(cli, ['artifacts', 'get', name, '--out', join(out, name), '--kubeconfig', kubeconfig]).catch(
        (error: Error & { stderr?: string }) => {
          throw new Error(`ksleuth artifacts get ${name}: ${error.message}\n${(error as { stdout?: string }).stdout ?? ''}\n${error.stderr ?? ''}`);
        },
      );
      expect(stdout).toMatch(/sha256 ok/);
      expect(stdout).not.toMatch(/failed|MISMATCH/);
      for (const capture of await capturesOf(name)) {
        for (const ref of capture.status?.artifacts ?? []) {
          const file = join(out, name, capture.spec.nodeName, ...(capture.spec.baseline ? ['baseline'] : []), ref.name);
          kinds.push(ref.name);
          expect((await stat(file)).size, ref.name).toBe(ref.sizeBytes);
          expect(await sha256File(file), ref.name).toBe(ref.sha256);
          files++;
        }
      }
    }
    expect(files).toBeGreaterThan(5);
    expect(kinds.join(' ')).toMatch(/\.svg\b/);
    expect(kinds.join(' ')).toMatch(/\.tar\.gz\b/);
    await rm(out, { recursive: true, force: true });
  }, 300_000);
});
