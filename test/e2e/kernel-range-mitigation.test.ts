import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { KernelInvestigation, KernelMitigation, KernelNode } from '../../api/v1alpha1/resources.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { projectRoot } from '../../lib/paths.js';
import { useKsleuth } from '../helpers/ksleuth.js';

const run = promisify(execFile);
const cli = join(projectRoot, 'bin', 'ksleuth');

// Three Ubuntu 22.04 nodes, each reporting another ABI of the 5.15 kernel (a test-only agent
// setting). The node image caps accept queues at somaxconn 128 on all three; the server that
// falls behind accepting runs on the two older kernels only: the finding follows the kernel, and
// the newest ABI does not show it.
const kernels = ['5.15.0-91-generic', '5.15.0-94-generic', '5.15.0-97-generic'];
const system = useKsleuth({
  agents: 3,
  nodeLabels: () => ({ pool: 'web' }),
  nodeKernel: (i) => ({ release: kernels[i]!, osImage: 'Ubuntu 22.04.4 LTS' }),
});

const name = 'accept-queue';
const overflowing = ['node-1', 'node-2'];
const servers: ChildProcess[] = [];
const admin = () => ['--kubeconfig', system().cluster.kubeconfigPath];

async function somaxconn(node: string): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', system().agent(node).host.netns, 'sysctl', '-n', 'net.core.somaxconn']);
  return stdout.trim();
}

async function setSomaxconn(node: string, value: string): Promise<void> {
  await run('ip', ['netns', 'exec', system().agent(node).host.netns, 'sysctl', '-q', '-w', `net.core.somaxconn=${value}`]);
}

const investigation = () => system().client.get<KernelInvestigation>(ksleuth('KernelInvestigation'), name);
const mitigation = (m: string) => system().client.get<KernelMitigation>(ksleuth('KernelMitigation'), m);
const condition = (m: KernelMitigation, type: string) => m.status?.conditions?.find((c) => c.type === type);

let original: string;

describe('from a finding on some kernels to a mitigation that holds on those kernels only', () => {
  beforeAll(async () => {
    original = await somaxconn('node-1');
    for (const node of ['node-1', 'node-2', 'node-3']) await setSomaxconn(node, '128');
    for (const node of overflowing) {
      const server = spawn(
        'ip',
        ['netns', 'exec', system().agent(node).host.netns, 'node', join(projectRoot, 'test', 'helpers', 'listen-overflow.mjs'), '200', '18090', '10'],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      servers.push(server);
      // Ready once its clients have filled the queue; from then on new ones keep being dropped.
      await new Promise<void>((resolve, reject) => {
        server.stdout!.on('data', (d: Buffer) => d.toString().includes('connecting') && resolve());
        server.once('exit', (code) => reject(new Error(`listen-overflow.mjs on ${node} exited with ${code}`)));
      });
    }
    await system().cluster.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: ksleuth.io/v1alpha1
kind: KernelInvestigation
metadata: {name: ${name}}
spec:
  description: Connections to the web tier hang for a second now and then
  nodes: {selector: {matchLabels: {pool: web}}}
  captures: [{tcp: {}}]
  durationSeconds: 5
  compareBy: {kernelVersion: true}
`,
    });
    await system().waitFor('the investigation to complete', async () => (await investigation()).status?.phase === 'Completed', 240_000);
  }, 300_000);

  afterAll(async () => {
    for (const server of servers) {
      if (server.exitCode !== null || server.signalCode !== null) continue;
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
    for (const node of ['node-1', 'node-2', 'node-3']) await setSomaxconn(node, original).catch(() => undefined);
  });

  it('finds the dropped connections on the two older kernels, with figures per kernel and the range that shows it', async () => {
    const status = (await investigation()).status!;
    const finding = status.findings?.find((f) => f.pattern === 'tcp-listen-overflow');
    expect(finding?.nodes.examples).toEqual(overflowing);
    expect(finding?.suggestedMitigation?.sysctls).toEqual([{ name: 'net.core.somaxconn', value: '4096' }]);
    expect(finding?.evidence.join('\n')).toMatch(
      /listener 127\.0\.0\.1:18090: \d+ connections waiting to be accepted .*\(full: net\.core\.somaxconn = 128 caps the queue\)/,
    );

    const groups = status.comparison?.groups ?? [];
    expect(groups.map((g) => [g.value, g.reported, g.patterns.includes('tcp-listen-overflow')]).sort()).toEqual([
      ['5.15.0-91-generic', 1, true],
      ['5.15.0-94-generic', 1, true],
      ['5.15.0-97-generic', 1, false],
    ]);
    // Every group gives the tcp capture's figures, each from its one node.
    for (const group of groups) {
      expect(
        group.figures?.find((f) => f.name === 'tcp-segments-per-second'),
        group.value,
      ).toMatchObject({ nodes: 1 });
      expect(
        group.figures?.find((f) => f.name === 'tcp-retransmit-percent'),
        group.value,
      ).toMatchObject({ nodes: 1 });
    }
    expect(status.comparison?.kernelRanges?.find((r) => r.pattern === 'tcp-listen-overflow')).toEqual({
      pattern: 'tcp-listen-overflow',
      statement: 'Ubuntu: seen on 5.15.0-94-generic and earlier, not on 5.15.0-97-generic and later',
      range: '>=5.15 <5.15.0-97-generic',
    });
    const { stdout } = await run(cli, ['get', name, ...admin()]);
    expect(stdout).toMatch(/FIGURES PER GROUP\nVALUE +FIGURE +MEDIAN +RANGE +NODES\n/);
    expect(stdout).toMatch(/tcp-listen-overflow +>=5\.15 <5\.15\.0-97-generic +Ubuntu: seen on 5\.15\.0-94-generic and earlier/);
  });

  it('writes a mitigation with that kernelVersions range, which applies as is on the nodes in range only, and reverts', async () => {
    const { stdout: yaml } = await run(cli, ['mitigation', 'from-finding', name, 'tcp-listen-overflow', ...admin()]);
    expect(yaml).toMatch(/^# From the "tcp-listen-overflow" finding of investigation accept-queue:\n/);
    expect(yaml).toContain('#   kernels: Ubuntu: seen on 5.15.0-94-generic and earlier, not on 5.15.0-97-generic and later\n');
    const written = parse(yaml) as KernelMitigation;
    expect(written.metadata.name).toBe('tcp-listen-overflow-accept-queue');
    expect(written.spec).toMatchObject({
      sysctls: [{ name: 'net.core.somaxconn', value: '4096' }],
      nodeSelector: { matchLabels: { pool: 'web' } },
      kernelVersions: '>=5.15 <5.15.0-97-generic',
    });

    // Applied exactly as printed, as a reviewer would commit it.
    await system().cluster.kubectl(['apply', '-f', '-'], { input: yaml });
    const m = written.metadata.name!;
    await system().waitFor('the mitigation to be applied', async () => condition(await mitigation(m), 'Applied')?.status === 'True', 90_000);
    expect((await mitigation(m)).status?.nodes).toMatchObject({ matched: 3, applied: 2, skippedKernel: 1 });
    expect(await somaxconn('node-1')).toBe('4096');
    expect(await somaxconn('node-2')).toBe('4096');
    // The newest ABI is outside the range: its KernelNode is not asked to hold anything, and its value stays.
    const node3 = await system().client.get<KernelNode>(ksleuth('KernelNode'), 'node-3');
    expect(node3.spec?.sysctls ?? []).toEqual([]);
    expect(await somaxconn('node-3')).toBe('128');

    await system().cluster.kubectl(['delete', 'kmit', m]);
    await system().waitFor(
      'node-1 and node-2 to get their own value back',
      async () => (await somaxconn('node-1')) === '128' && (await somaxconn('node-2')) === '128',
      90_000,
    );
  });
});
