import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../lib/paths.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { useCluster } from '../helpers/cluster.js';

/*
 * -o and --fail-on against the real API server. No operator runs here: the test writes the
 * investigations' status itself, as the operator would, so it knows exactly what they hold.
 */

const exec = promisify(execFile);
const cluster = useCluster({ controllerManager: false, kwok: false });
const cli = join(projectRoot, 'bin', 'ksleuth');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(args: string[]): Promise<Result> {
  return exec(cli, [...args, '--kubeconfig', cluster().kubeconfigPath]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

const finding = (pattern: string, severity: string, extra: object = {}) => ({
  pattern,
  severity,
  title: `${pattern} found`,
  evidence: ['node-1: the numbers'],
  recommendation: 'Do something.',
  nodes: { count: 1, examples: ['node-1'] },
  ...extra,
});

/** An investigation with the status an operator would have written. */
async function investigation(name: string, status: object): Promise<void> {
  const client = cluster().client();
  await client.create(ksleuth('KernelInvestigation'), {
    apiVersion: 'ksleuth.io/v1alpha1',
    kind: 'KernelInvestigation',
    metadata: { name },
    spec: { nodes: { names: ['node-1'] }, captures: [{ memory: {} }], durationSeconds: 5 },
  });
  await client.patch(ksleuth('KernelInvestigation'), name, { status }, { subresource: 'status' });
}

const completed = (findings: object[], highestSeverity: string) => ({
  phase: 'Completed',
  progress: '1/1',
  findingCount: findings.length,
  highestSeverity,
  findings,
});

describe('ksleuth -o and --fail-on', () => {
  it('get prints one investigation or the list as json, yaml, name and wide tables', async () => {
    await investigation('frag', completed([finding('memory-fragmentation', 'warning')], 'warning'));
    await investigation('oops', completed([finding('kernel-oops', 'critical')], 'critical'));

    const json = await run(['get', 'frag', '-o', 'json']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelInvestigation', metadata: { name: 'frag' } });
    const yaml = parse((await run(['get', '-o', 'yaml'])).stdout) as { kind: string; items: { kind: string; metadata: { name: string } }[] };
    expect(yaml.kind).toBe('List');
    expect(yaml.items.map((i) => [i.kind, i.metadata.name])).toEqual([
      ['KernelInvestigation', 'frag'],
      ['KernelInvestigation', 'oops'],
    ]);
    expect((await run(['get', '-o', 'name'])).stdout).toBe('kernelinvestigation.ksleuth.io/frag\nkernelinvestigation.ksleuth.io/oops\n');
    const wide = (await run(['get', '-o', 'wide'])).stdout;
    expect(wide).toMatch(/^NAME\s+PHASE\s+NODES\s+FINDINGS\s+SEVERITY\s+AGE\s+CAPTURES\s+DURATION\s+COMPARE-BY\s+DESCRIPTION$/m);
    expect(wide).toMatch(/^oops\s+Completed\s+1\/1\s+1\s+critical\s+\S+\s+memory\s+5s/m);
    const bad = await run(['get', '-o', 'xml']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/-o xml: use one of wide, json, yaml, name/);
  });

  it('get exits 3 when a finding reaches --fail-on, 0 when none does', async () => {
    const failed = await run(['get', 'frag', '--fail-on', 'warning']);
    expect(failed.code, failed.stderr).toBe(3);
    expect(failed.stdout).toMatch(/Phase:\s+Completed/);
    expect((await run(['get', 'frag', '--fail-on', 'critical'])).code).toBe(0);
    expect((await run(['get', '--fail-on', 'critical', '-o', 'name'])).code).toBe(3);
    const bad = await run(['get', 'frag', '--fail-on', 'severe']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--fail-on severe: use one of info, warning, critical/);
  });

  it('investigate --wait prints the result as asked and exits by --fail-on', async () => {
    const waiting = run([
      'investigate',
      '--nodes',
      'node-1',
      '--capture',
      'memory',
      '--duration',
      '5s',
      '--name',
      'waited',
      '--wait',
      '--fail-on',
      'warning',
      '-o',
      'json',
    ]);
    // The operator's part: the investigation completes with a warning.
    const client = cluster().client();
    for (let i = 0; i < 50; i++) {
      if (await client.get(ksleuth('KernelInvestigation'), 'waited').catch(() => undefined)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await client.patch(
      ksleuth('KernelInvestigation'),
      'waited',
      { status: completed([finding('slab-growth', 'warning')], 'warning') },
      { subresource: 'status' },
    );
    const result = await waiting;
    expect(result.code, result.stderr).toBe(3);
    expect(JSON.parse(result.stdout)).toMatchObject({ kind: 'KernelInvestigation', status: { phase: 'Completed', highestSeverity: 'warning' } });
    expect(result.stderr).toMatch(/kernelinvestigation\.ksleuth\.io\/waited created/);
    const created = await run(['investigate', '--nodes', 'node-1', '--capture', 'memory', '--name', 'named', '-o', 'name']);
    expect(created.stdout).toBe('kernelinvestigation.ksleuth.io/named\n');
    const noWait = await run(['investigate', '--nodes', 'node-1', '--fail-on', 'info']);
    expect(noWait.code).toBe(2);
    expect(noWait.stderr).toMatch(/--fail-on needs --wait/);
  }, 60_000);

  it('mitigation from-finding prints the KernelMitigation as json or its name', async () => {
    await investigation(
      'tunable',
      completed(
        [
          finding('memory-fragmentation', 'warning', {
            suggestedMitigation: { sysctls: [{ name: 'vm.min_free_kbytes', value: '262144' }], reason: 'A larger reserve.' },
          }),
        ],
        'warning',
      ),
    );
    const json = await run(['mitigation', 'from-finding', 'tunable', 'memory-fragmentation', '-o', 'json']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ kind: 'KernelMitigation', spec: { sysctls: [{ name: 'vm.min_free_kbytes', value: '262144' }] } });
    const name = await run(['mitigation', 'from-finding', 'tunable', 'memory-fragmentation', '-o', 'name', '--name', 'min-free']);
    expect(name.stdout).toBe('kernelmitigation.ksleuth.io/min-free\n');
    expect((await run(['mitigation', 'from-finding', 'tunable', 'memory-fragmentation'])).stdout).toMatch(/^# From the "memory-fragmentation" finding/);
  });
});
