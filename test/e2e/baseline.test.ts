import { describe, expect, it } from 'vitest';
import type { KernelCapture, KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { useKsleuth } from '../helpers/ksleuth.js';

// Three simulated nodes, each with a real agent in its own network namespace: the reproducers run
// for real on this machine's kernel, and the tcp capture reads the TCP counters of that namespace
// (the agent's own API traffic, and the reproducer's loopback connections).
const system = useKsleuth({ agents: 3, nodeLabels: () => ({ pool: 'baseline' }) });

function apply(name: string, body: string): Promise<unknown> {
  return system().cluster.kubectl(['apply', '-f', '-'], {
    input: `apiVersion: ksleuth.io/v1alpha1\nkind: KernelInvestigation\nmetadata: {name: ${name}}\nspec:\n${body}`,
  });
}

function get(name: string): Promise<KernelInvestigation> {
  return system().client.get<KernelInvestigation>(ksleuth('KernelInvestigation'), name);
}

async function finished(name: string): Promise<KernelInvestigation> {
  await system().waitFor(`${name} to finish`, async () => ['Completed', 'Failed'].includes((await get(name)).status?.phase ?? ''), 240_000);
  return get(name);
}

async function capturesOf(name: string): Promise<KernelCapture[]> {
  return (await system().client.list<KernelCapture>(ksleuth('KernelCapture'), { fieldSelector: `spec.investigation=${name}` })).items;
}

describe('baselines: the same captures without the workload, and what changed with it', () => {
  it('runs a baseline window without tcp-churn on the chosen nodes, then the window with it, and reports the figures that moved', async () => {
    await apply(
      'churn-against-baseline',
      `  nodes: {names: [node-1, node-3]}
  durationSeconds: 4
  workload: {tcpChurn: {concurrency: 4, deadlineMs: 2000}}
  baseline: {run: true}
  captures: [{tcp: {intervalSeconds: 1}}]
`,
    );
    const investigation = await finished('churn-against-baseline');
    const complete = investigation.status?.conditions?.find((c) => c.type === 'Complete');
    expect(investigation.status?.phase, complete?.message).toBe('Completed');
    expect(complete?.message).toMatch(/; against the baseline: \d+ figures? moved/);

    const captures = await capturesOf('churn-against-baseline');
    const baselineWindow = captures.filter((c) => c.spec.baseline);
    const workloadWindow = captures.filter((c) => !c.spec.baseline);
    expect(baselineWindow.map((c) => c.spec.nodeName).sort()).toEqual(['node-1', 'node-3']);
    expect(workloadWindow.map((c) => c.spec.nodeName).sort()).toEqual(['node-1', 'node-3']);
    const baselineEnd = Math.max(...baselineWindow.map((c) => Date.parse(c.status!.completionTime!)));
    for (const capture of baselineWindow) {
      expect(capture.spec.workload, capture.metadata.name).toBeUndefined();
      expect(capture.status?.results?.map((r) => r.kind)).toEqual(['tcp']);
    }
    for (const capture of workloadWindow) {
      // The workload window starts once every node's baseline window ended.
      expect(Date.parse(capture.status!.startTime!)).toBeGreaterThanOrEqual(baselineEnd);
      const churn = capture.status?.results?.find((r) => r.kind === 'tcp-churn');
      expect(churn, capture.metadata.name).toMatchObject({ state: 'Succeeded' });
      expect(churn!.summary!.connections).toBeGreaterThan(50);
    }

    const baseline = investigation.status!.baseline!;
    expect(baseline.source).toBe('baseline window: the same captures on the same 2 nodes without the workload, just before it');
    expect(baseline.nodes).toBe(2);
    // Status times are to the second.
    expect(Date.parse(baseline.completionTime!)).toBeGreaterThanOrEqual(Math.floor(baselineEnd / 1000) * 1000);
    expect(baseline.figures?.map((f) => f.name)).toEqual(['tcp-segments-per-second', 'tcp-retransmit-percent']);
    // Hundreds of loopback connections a second against the agent's own few requests.
    const segments = baseline.changed?.find((c) => c.name === 'tcp-segments-per-second');
    expect(
      segments,
      JSON.stringify({ baseline, figures: investigation.status!.figures, captures: workloadWindow.map((c) => c.status?.results) }),
    ).toBeDefined();
    expect(segments!.workload).toBeGreaterThan(segments!.baseline);
    expect(segments!.change).toBeCloseTo(segments!.workload - segments!.baseline, 2);
    expect(segments!.statement).toMatch(/^tcp-segments-per-second rose from median .* \/s \(.*2 nodes\) in the baseline to median/);
    // The reproducer's own figures, over both nodes; it has nothing to compare with in the baseline.
    const figures = investigation.status!.figures!;
    expect(figures.find((f) => f.name === 'reproducer-failure-percent')?.nodes).toBe(2);
    expect(figures.find((f) => f.name === 'reproducer-p99-ms')?.median).toBeGreaterThan(0);
    expect(baseline.changed?.map((c) => c.name)).not.toContain('reproducer-failure-percent');
    // What appeared is what the workload window found and the baseline did not.
    const before = new Set(baseline.findings?.map((f) => f.pattern));
    expect(baseline.appeared?.map((f) => f.pattern).sort()).toEqual(
      [...new Set(investigation.status!.findings?.map((f) => f.pattern))].filter((p) => !before.has(p)).sort(),
    );
    expect(baseline.summary).toMatch(/^\d+ figures? moved, \d+ new findings?, \d+ gone$/);

    const { stdout } = await system().cluster.kubectl(['get', 'kinv', 'churn-against-baseline']);
    expect(stdout.split('\n')[0]).toMatch(/\bBASELINE\b/);
    expect(stdout).toContain(baseline.summary!);
  }, 300_000);

  it('compares fs-sync with an earlier investigation applied at the same time: it waits for it, then takes its findings and figures', async () => {
    // GitOps applies both at once: the second waits for the first, so that they never share the nodes' disks.
    await apply(
      'fsync-before',
      `  nodes: {names: [node-2]}
  durationSeconds: 3
  captures: [{memory: {intervalSeconds: 1}}, {tcp: {intervalSeconds: 1}}]
`,
    );
    await apply(
      'fsync-after',
      `  nodes: {names: [node-2]}
  durationSeconds: 3
  workload: {fsSync: {fileBytes: 4096, maxFiles: 200}}
  baseline: {investigation: fsync-before}
  captures: [{memory: {intervalSeconds: 1}}, {tcp: {intervalSeconds: 1}}]
`,
    );
    const before = await finished('fsync-before');
    const after = await finished('fsync-after');
    expect(before.status?.phase).toBe('Completed');
    expect(after.status?.phase, after.status?.conditions?.find((c) => c.type === 'Complete')?.message).toBe('Completed');
    expect(Date.parse(after.status!.startTime!)).toBeGreaterThanOrEqual(Date.parse(before.status!.completionTime!));

    const baseline = after.status!.baseline!;
    expect(baseline).toMatchObject({
      investigation: 'fsync-before',
      source: `investigation fsync-before, completed ${before.status!.completionTime} on 1 node`,
      startTime: before.status!.startTime,
      completionTime: before.status!.completionTime,
      nodes: 1,
      figures: before.status!.figures,
    });
    expect(baseline.figures?.map((f) => f.name)).toContain('tcp-segments-per-second');
    for (const change of baseline.changed ?? []) {
      const was = before.status!.figures!.find((f) => f.name === change.name)!;
      const now = after.status!.figures!.find((f) => f.name === change.name)!;
      expect(change).toMatchObject({ baseline: was.median, workload: now.median });
      // One node a side: a change is at least the figure's minimum (docs/baselines.md).
      expect(Math.abs(change.change)).toBeGreaterThan(0);
    }
    // The reproducer's figures: every fsync of the 200 files timed.
    const [capture] = await capturesOf('fsync-after');
    expect(capture?.status?.results?.find((r) => r.kind === 'fs-sync')?.summary).toMatchObject({ files: 200, succeeded: 200 });
    expect(after.status!.figures!.find((f) => f.name === 'reproducer-p99-ms')).toMatchObject({ nodes: 1 });
    expect(after.status!.figures!.find((f) => f.name === 'reproducer-failure-percent')).toMatchObject({ nodes: 1 });
  }, 300_000);

  it('refuses a baseline that cannot be compared with, naming the field and the fix', async () => {
    await expect(
      apply(
        'baseline-without-workload',
        `  nodes: {names: [node-1]}
  baseline: {run: true}
  captures: [{memory: {}}]
`,
      ),
    ).rejects.toThrow(/baseline\.run needs spec\.workload: .*set spec\.workload, or compare with an earlier investigation/);
    await expect(
      apply(
        'baseline-both',
        `  nodes: {names: [node-1]}
  workload: {tcpChurn: {}}
  baseline: {run: true, investigation: fsync-before}
  captures: [{memory: {}}]
`,
      ),
    ).rejects.toThrow(/spec\.baseline: Invalid value: set exactly one of run: true .* or investigation: NAME/);

    await apply(
      'baseline-missing',
      `  nodes: {names: [node-1]}
  durationSeconds: 2
  baseline: {investigation: no-such-investigation}
  captures: [{memory: {}}]
`,
    );
    const missing = await finished('baseline-missing');
    expect(missing.status?.phase).toBe('Failed');
    expect(missing.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({
      reason: 'BaselineNotFound',
      message: expect.stringContaining('spec.baseline.investigation: there is no KernelInvestigation named no-such-investigation'),
    });
    expect(await capturesOf('baseline-missing')).toEqual([]);
  }, 120_000);
});
