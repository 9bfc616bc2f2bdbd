import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { KernelInvestigation, KernelMitigation } from '../../api/v1alpha1/resources.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { projectRoot } from '../../lib/paths.js';
import { useKsleuth } from '../helpers/ksleuth.js';
import { reproducerBegin, reproducerEnd } from '../../cli/kernel-report/markdown.js';

const run = promisify(execFile);
const cli = join(projectRoot, 'bin', 'ksleuth');

// Three Debian 12 nodes, each reporting another ABI (a test-only agent setting). The application
// that stops reading its sockets runs on the two newer ones: the finding follows the kernel.
const kernels = ['6.1.0-13-amd64', '6.1.0-18-amd64', '6.1.0-28-cloud-amd64'];
const system = useKsleuth({
  agents: 3,
  nodeLabels: () => ({ pool: 'db' }),
  nodeKernel: (i) => ({ release: kernels[i]!, osImage: 'Debian GNU/Linux 12 (bookworm)' }),
});

const name = 'kernel-compare';
const stuck: ChildProcess[] = [];
let out: string;

async function investigation(): Promise<KernelInvestigation> {
  return system().client.get<KernelInvestigation>(ksleuth('KernelInvestigation'), name);
}

async function mitigation(m: string): Promise<KernelMitigation> {
  return system().client.get<KernelMitigation>(ksleuth('KernelMitigation'), m);
}

const condition = (m: KernelMitigation, type: string) => m.status?.conditions?.find((c) => c.type === type);
const admin = () => ['--kubeconfig', system().cluster.kubeconfigPath];

describe('kernel versions, a comparison across them, and a report for kernel developers', () => {
  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'ksleuth-kernel-report-'));
    for (const [node, port] of [
      ['node-2', '18081'],
      ['node-3', '18082'],
    ] as const) {
      stuck.push(
        spawn('ip', ['netns', 'exec', system().agent(node).host.netns, 'node', join(projectRoot, 'test', 'helpers', 'close-wait-sockets.mjs'), '6', port], {
          stdio: 'ignore',
        }),
      );
    }
    // Let the sockets reach CLOSE_WAIT with data queued before the capture looks.
    await new Promise((r) => setTimeout(r, 3000));
    await system().cluster.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: ksleuth.io/v1alpha1
kind: KernelInvestigation
metadata: {name: ${name}}
spec:
  description: Connections hang after the kernel update
  nodes: {selector: {matchLabels: {pool: db}}}
  captures: [{tcp: {}}, {kernelLog: {sinceBoot: false}}, {bundle: {}}]
  durationSeconds: 5
  compareBy: {kernelVersion: true}
`,
    });
    await system().waitFor('the investigation to complete', async () => (await investigation()).status?.phase === 'Completed', 240_000);
  }, 300_000);

  afterAll(async () => {
    for (const child of stuck) child.kill('SIGKILL');
    await rm(out, { recursive: true, force: true });
  });

  it('states the kernels the finding appears on, within the distribution, in the status and in ksleuth get', async () => {
    const inv = await investigation();
    expect(inv.status?.findings?.find((f) => f.pattern === 'tcp-close-wait-backlog')?.nodes.examples).toEqual(['node-2', 'node-3']);
    expect(inv.status?.comparison?.groups.map((g) => g.value).sort()).toEqual([...kernels].sort());
    const range = inv.status?.comparison?.kernelRanges?.find((r) => r.pattern === 'tcp-close-wait-backlog');
    expect(range).toEqual({
      pattern: 'tcp-close-wait-backlog',
      statement: 'Debian: seen on 6.1.0-18-amd64 and later, not on 6.1.0-13-amd64 and earlier',
      range: '>=6.1.0-18-amd64 <6.2',
    });
    const { stdout } = await run(cli, ['get', name, ...admin()]);
    expect(stdout).toMatch(/KERNELS THAT SHOW EACH FINDING\nPATTERN +KERNELVERSIONS +EVIDENCE\n/);
    expect(stdout).toMatch(/tcp-close-wait-backlog +>=6\.1\.0-18-amd64 <6\.2 +Debian: seen on 6\.1\.0-18-amd64 and later, not on 6\.1\.0-13-amd64 and earlier/);
  });

  it('says why mitigation from-finding cannot build a mitigation for a finding without a sysctl', async () => {
    const result = await run(cli, ['mitigation', 'from-finding', name, 'tcp-close-wait-backlog', ...admin()]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/the "tcp-close-wait-backlog" finding suggests no sysctl that helps/);
  });

  it('holds a sysctl only on the Debian ABIs a range names, and says which nodes a range cannot place', async () => {
    await system().cluster.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: ksleuth.io/v1alpha1
kind: KernelMitigation
metadata: {name: abi-range}
spec:
  sysctls: [{name: net.ipv4.tcp_fastopen, value: "0"}]
  nodeSelector: {matchLabels: {pool: db}}
  kernelVersions: ">=6.1.0-18 <6.1.0-28"
---
apiVersion: ksleuth.io/v1alpha1
kind: KernelMitigation
metadata: {name: upstream-range}
spec:
  sysctls: [{name: net.ipv4.tcp_tw_reuse, value: "1"}]
  nodeSelector: {matchLabels: {pool: db}}
  kernelVersions: ">=6.1.0 <6.1.50"
`,
    });
    await system().waitFor('abi-range to be applied', async () => condition(await mitigation('abi-range'), 'Applied')?.status === 'True', 60_000);
    const abi = await mitigation('abi-range');
    expect(abi.status?.nodes).toMatchObject({ matched: 3, applied: 1, skippedKernel: 2 });
    const { stdout } = await run('ip', ['netns', 'exec', system().agent('node-2').host.netns, 'sysctl', '-n', 'net.ipv4.tcp_fastopen']);
    expect(stdout.trim()).toBe('0');

    await system().waitFor(
      'upstream-range to say why',
      async () => condition(await mitigation('upstream-range'), 'Applied')?.reason === 'NoMatchingNodes',
      60_000,
    );
    const upstream = condition(await mitigation('upstream-range'), 'Applied')!;
    expect(upstream.message).toMatch(
      /^3 matching nodes run a kernel outside >=6\.1\.0 <6\.1\.50; kernelVersions cannot place 3 matching nodes \(node-1: 6\.1\.0-13-amd64 is a Debian kernel: its release names the Debian build, not the upstream patch level/,
    );
    await system().cluster.kubectl(['delete', 'kmit', 'abi-range', 'upstream-range']);
  });

  it('refuses a kernelVersions range it cannot read, in the status, naming the field and the fix', async () => {
    await system().cluster.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: ksleuth.io/v1alpha1
kind: KernelMitigation
metadata: {name: cloud-abi-without-flavour}
spec:
  sysctls: [{name: net.ipv4.tcp_fastopen, value: "0"}]
  nodeSelector: {matchLabels: {pool: db}}
  kernelVersions: ">=6.8.0-1015"
`,
    });
    await system().waitFor('the refusal', async () => condition(await mitigation('cloud-abi-without-flavour'), 'Accepted')?.status === 'False', 60_000);
    const accepted = condition(await mitigation('cloud-abi-without-flavour'), 'Accepted')!;
    expect(accepted.reason).toBe('InvalidKernelVersions');
    expect(accepted.message).toBe(
      'spec.kernelVersions ">=6.8.0-1015": 6.8.0-1015 looks like an Ubuntu cloud kernel (their ABI numbers start at 1000, each cloud its own): add the flavour, for example 6.8.0-1015-aws or 6.8.0-1015-azure',
    );
    // What is not range syntax at all the API server refuses at admission.
    const admission = await system()
      .cluster.kubectl(['apply', '-f', join(projectRoot, 'manifests', 'examples', 'invalid', 'bad-kernel-range.yaml')])
      .then(
        () => '',
        (e: Error) => e.message,
      );
    expect(admission).toMatch(/spec\.kernelVersions.*should match/);
    await system().cluster.kubectl(['delete', 'kmit', 'cloud-abi-without-flavour']);
  });

  it('writes a Markdown report beside the downloaded bundles, for kernel developers', async () => {
    const before = await run(cli, ['report', name, '--out', out, ...admin()]);
    expect(before.stdout).toMatch(/Wrote .*report\.md \(no bundle downloaded next to it: ksleuth artifacts get kernel-compare/);
    expect(await readFile(join(out, 'report.md'), 'utf8')).toMatch(/_No bundle is downloaded next to this report: `ksleuth artifacts get kernel-compare/);

    // Download the artifacts as a person allowed to read them, then write the report again.
    await system()
      .cluster.kubectl(['create', 'namespace', 'kernel-devs'])
      .catch(() => undefined);
    await system()
      .cluster.kubectl(['create', 'serviceaccount', 'reader', '-n', 'kernel-devs'])
      .catch(() => undefined);
    await system().cluster.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: kernel-devs-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ksleuth-artifact-reader}
subjects: [{kind: ServiceAccount, name: reader, namespace: kernel-devs}]
`,
    });
    const reader = await system().cluster.tokenKubeconfig({ namespace: 'kernel-devs', serviceAccount: 'reader' });
    await run(cli, ['artifacts', 'get', name, '--out', out, '--kubeconfig', reader], { maxBuffer: 16 * 1024 * 1024 });
    const { stdout } = await run(cli, ['report', name, '--out', out, ...admin()]);
    expect(stdout.trim()).toBe(`Wrote ${join(out, 'report.md')}`);
    const md = await readFile(join(out, 'report.md'), 'utf8');

    expect(md).toMatch(/^# Kernel investigation kernel-compare\n\n> Connections hang after the kernel update\n/);
    // The kernels the nodes reported, read as Debian builds.
    expect(md).toMatch(/^\| `6\.1\.0-18-amd64` \| Debian, upstream 6\.1\.x \| node-2 \| [^|\n]*tcp-close-wait-backlog[^|\n]* \|$/m);
    const older = /^\| `6\.1\.0-13-amd64` \| Debian, upstream 6\.1\.x \| node-1 \| ([^|\n]*) \|$/m.exec(md);
    expect(older?.[1]).not.toContain('tcp-close-wait-backlog');
    // The kernel this machine really runs, from the bundle: uname, /proc/version, taint, config.
    const release = (await readFile('/proc/sys/kernel/osrelease', 'utf8')).trim();
    const procVersion = (await readFile('/proc/version', 'utf8')).trim();
    expect(md).toContain(`### Kernel of node-1 (also node-2, node-3): \`${release}\``);
    expect(md).toContain(`\`/proc/version\`:\n\n\`\`\`\n${procVersion}\n\`\`\``);
    expect(md).toMatch(/\*\*(Not tainted\*\* \(`\/proc\/sys\/kernel\/tainted` is 0\)|Tainted: [A-Z]+\*\* \(\d+\): .+)\./);
    expect(md).toMatch(/\| BTF \| yes \|/);
    expect(md).toMatch(/\| preemption \| \S+/);
    // Findings with their evidence.
    expect(md).toMatch(
      /### \d+\. .*CLOSE_WAIT[\s\S]*pattern `tcp-close-wait-backlog`[\s\S]*seen on 2 nodes \(node-2, node-3\)\.\n\n```\n[\s\S]*1808[12][\s\S]*```\n\nRecommendation: /,
    );
    // The comparison across kernels and the range it supports.
    expect(md).toContain('## Comparison across kernels');
    expect(md).toMatch(/\| `6\.1\.0-28-cloud-amd64` \| 1 \| yes \(1\/1\) \|/);
    expect(md).toContain(
      '- `tcp-close-wait-backlog`: Debian: seen on 6.1.0-18-amd64 and later, not on 6.1.0-13-amd64 and earlier. As a KernelMitigation range: `>=6.1.0-18-amd64 <6.2`',
    );
    // How to reproduce: a marked section, with the captures and their parameters for now.
    const reproduce = md.slice(md.indexOf(reproducerBegin), md.indexOf(reproducerEnd));
    expect(reproduce).toContain('_No reproducer ran during the captures');
    const spec = parse(/```yaml\n([\s\S]*?)```/.exec(reproduce)![1]!) as { durationSeconds: number; captures: Record<string, unknown>[] };
    expect(spec.durationSeconds).toBe(5);
    expect(spec.captures.map((c) => Object.keys(c)[0])).toEqual(['tcp', 'kernelLog', 'bundle']);
    expect(reproduce).toContain('sudo ksleuth investigate --local --capture tcp,kernel-log,bundle --duration 5s');
    // Artifacts with links to the downloaded files.
    expect(md).toMatch(
      /\| node-2 \| `bundle-bundle\.tar\.gz` \| [\d.]+ KiB \| `[0-9a-f]{16}` \| \[node-2\/bundle-bundle\.tar\.gz\]\(node-2\/bundle-bundle\.tar\.gz\) \|/,
    );
    expect(md).not.toContain('not downloaded');
  });
});
