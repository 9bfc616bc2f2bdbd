import { describe, expect, it } from 'vitest';
import type { KernelCapture, KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { useKsleuth } from '../helpers/ksleuth.js';

// Four nodes over two kernels (a test-only agent setting): three on the older ABI, one on the
// newer. Each agent runs the reproducers for real on this machine's kernel, in its own network
// namespace (loopback there), its files on its own state directory.
const kernels = ['6.1.0-18-amd64', '6.1.0-18-amd64', '6.1.0-18-amd64', '6.1.0-28-amd64'];
const system = useKsleuth({
  agents: 4,
  nodeLabels: () => ({ pool: 'repro' }),
  nodeKernel: (i) => ({ release: kernels[i]!, osImage: 'Debian GNU/Linux 12 (bookworm)' }),
});

async function runInvestigation(name: string, body: string): Promise<{ investigation: KernelInvestigation; captures: KernelCapture[] }> {
  await system().cluster.kubectl(['apply', '-f', '-'], {
    input: `apiVersion: ksleuth.io/v1alpha1\nkind: KernelInvestigation\nmetadata: {name: ${name}}\nspec:\n${body}`,
  });
  const get = () => system().client.get<KernelInvestigation>(ksleuth('KernelInvestigation'), name);
  await system().waitFor(`${name} to complete`, async () => (await get()).status?.phase === 'Completed', 240_000);
  const captures = (await system().client.list<KernelCapture>(ksleuth('KernelCapture'))).items.filter((c) => c.spec.investigation === name);
  return { investigation: await get(), captures };
}

describe('reproducers during captures, on chosen nodes, compared across kernels', () => {
  it('runs tcp-churn beside the tcp capture on nodes picked evenly across kernels, and reports its figures per kernel', async () => {
    const { investigation, captures } = await runInvestigation(
      'churn',
      `  nodes: {selector: {matchLabels: {pool: repro}}, maxNodes: 2}
  durationSeconds: 4
  workload: {tcpChurn: {concurrency: 4, deadlineMs: 2000}}
  captures: [{tcp: {intervalSeconds: 1}}]
  compareBy: {kernelVersion: true}
`,
    );
    // The first two by name would both run 6.1.0-18: one of each kernel is picked instead.
    expect(captures.map((c) => c.spec.nodeName).sort()).toEqual(['node-1', 'node-4']);
    const failurePercent = new Map<string, number>();
    for (const capture of captures) {
      expect(capture.spec.workload).toEqual({ tcpChurn: { concurrency: 4, deadlineMs: 2000, maxConnections: 100000, payloadBytes: 512 } });
      const result = capture.status?.results?.find((r) => r.kind === 'tcp-churn');
      expect(result, capture.spec.nodeName).toMatchObject({ name: 'workload-tcp-churn', state: 'Succeeded' });
      expect(result!.summary!.connections).toBeGreaterThan(50);
      // On a busy machine some connections may time out: the figures must add up, whatever they are.
      const s = result!.summary!;
      expect(s.failed).toBe((s.timeouts as number) + (s.errors as number));
      expect(s.failurePercent).toBeCloseTo((100 * (s.failed as number)) / (s.connections as number), 1);
      failurePercent.set(capture.status!.kernelVersion!, s.failurePercent as number);
      expect(capture.status?.results?.find((r) => r.kind === 'tcp')?.state).toBe('Succeeded');
    }
    const groups = investigation.status!.comparison!.groups;
    expect(groups.map((g) => g.value).sort()).toEqual(['6.1.0-18-amd64', '6.1.0-28-amd64']);
    for (const group of groups) {
      expect(group.figures?.find((f) => f.name === 'reproducer-failure-percent')).toEqual({
        name: 'reproducer-failure-percent',
        nodes: 1,
        median: 0,
        min: 0,
        max: 0,
      });
      expect(group.figures?.find((f) => f.name === 'tcp-retransmit-percent')?.nodes).toBe(1);
    }
    const { stdout } = await system().cluster.kubectl(['get', 'kinv', 'churn']);
    expect(stdout).toContain('churn');
  }, 300_000);

  it('runs fs-sync on every node and a bad path fails the reproducer with the field named, not the captures', async () => {
    const { captures } = await runInvestigation(
      'fsync',
      `  nodes: {selector: {matchLabels: {pool: repro}}, maxNodes: 4}
  durationSeconds: 3
  workload: {fsSync: {fileBytes: 4096, maxFiles: 200}}
  captures: [{memory: {intervalSeconds: 1}}]
`,
    );
    expect(captures).toHaveLength(4);
    for (const capture of captures) {
      const result = capture.status?.results?.find((r) => r.kind === 'fs-sync');
      expect(result, capture.spec.nodeName).toMatchObject({ state: 'Succeeded' });
      expect(result!.summary).toMatchObject({ files: 200, succeeded: 200, errors: 0 });
    }
    const { captures: bad } = await runInvestigation(
      'fsync-bad-path',
      `  nodes: {names: [node-2], maxNodes: 1}
  durationSeconds: 2
  workload: {fsSync: {path: /nonexistent-ksleuth}}
  captures: [{memory: {intervalSeconds: 1}}]
`,
    );
    const status = bad[0]!.status!;
    expect(status.phase).toBe('Succeeded');
    expect(status.results?.find((r) => r.kind === 'fs-sync')).toMatchObject({ state: 'Failed', reason: 'WorkloadPathUnusable' });
    expect(status.message).toContain('spec.workload.fsSync.path /nonexistent-ksleuth');
  }, 300_000);
});
