import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../lib/paths.js';
import { chartDir, helm } from './chart.js';

const run = promisify(execFile);
const script = join(chartDir, 'files', 'argocd', 'health.lua');
let tools = '';

/** What the chart's health check says of these objects, run by gopher-lua as Argo CD runs it. */
function argocd(objects: object[]): Promise<{ name: string; status: string; message: string }[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(tools, 'argocd-health'), [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(
            out
              .trim()
              .split('\n')
              .map((line) => JSON.parse(line)),
          )
        : reject(new Error(`argocd-health exited ${code}: ${err}`)),
    );
    child.stdin.end(JSON.stringify({ kind: 'List', items: objects }));
  });
}

const condition = (type: string, status: string, message: string) => ({ type, status, reason: 'R', message, lastTransitionTime: '2026-12-01T00:00:00Z' });
function mitigation(name: string, generation: number, status?: object) {
  return { apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelMitigation', metadata: { name, generation }, spec: {}, ...(status ? { status } : {}) };
}

describe('the Argo CD health check the chart ships', () => {
  beforeAll(async () => {
    const { stdout } = await run('bash', [join(projectRoot, 'hack', 'build-health-tools.sh')], { maxBuffer: 1024 * 1024 });
    tools = stdout.trim().split('\n').at(-1)!;
  }, 600_000);

  it('is in the packaged chart, and docs/gitops.md shows the same script', async () => {
    const out = await mkdtemp(join(tmpdir(), 'ksleuth-package-'));
    try {
      await helm(['package', chartDir, '--destination', out]);
      const { stdout } = await run('tar', ['-tzf', join(out, 'ksleuth-0.1.0.tgz')]);
      expect(stdout.split('\n')).toContain('ksleuth/files/argocd/health.lua');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
    const lua = (await readFile(script, 'utf8')).trimEnd();
    expect(await readFile(join(projectRoot, 'docs', 'gitops.md'), 'utf8')).toContain(`\`\`\`lua\n${lua}\n\`\`\``);
  });

  it('waits for the operator: no status, or a status for an older generation, is Progressing', async () => {
    const ready = { observedGeneration: 1, conditions: [condition('Ready', 'True', 'held on 3 nodes')] };
    expect(await argocd([mitigation('new', 1), mitigation('changed', 2, ready)])).toEqual([
      { name: 'new', status: 'Progressing', message: 'Waiting for the ksleuth operator' },
      { name: 'changed', status: 'Progressing', message: 'Waiting for the ksleuth operator to act on the latest spec' },
    ]);
  });

  it('puts Stalled before Reconciling before Ready, and carries the message', async () => {
    const status = (stalled: string, reconciling: string, ready: string) => ({
      observedGeneration: 1,
      conditions: [condition('Ready', ready, 'ready'), condition('Reconciling', reconciling, 'rolling'), condition('Stalled', stalled, 'stuck')],
    });
    const verdicts = await argocd([
      mitigation('a', 1, status('True', 'True', 'False')),
      mitigation('b', 1, status('False', 'True', 'False')),
      mitigation('c', 1, status('False', 'False', 'True')),
      mitigation('d', 1, status('False', 'False', 'False')),
    ]);
    expect(verdicts.map((v) => [v.status, v.message])).toEqual([
      ['Degraded', 'stuck'],
      ['Progressing', 'rolling'],
      ['Healthy', 'ready'],
      ['Progressing', 'Waiting for the ksleuth operator'],
    ]);
  });
});
