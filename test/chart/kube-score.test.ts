import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../lib/paths.js';
import { parseRendered, renderText } from './chart.js';

const run = promisify(execFile);

/**
 * kube-score (github.com/zegl/kube-score), a well-known linter for Kubernetes manifests, over the
 * rendered chart: its default checks plus the optional seccomp and container-port checks. The
 * optional "requests equal limits" checks are left off on purpose: both pods idle far below what a
 * capture or a burst of reconciles needs, so they are Burstable by design.
 */
const optionalChecks = ['container-seccomp-profile', 'container-ports-check'];

interface ScoredObject {
  object_meta: { name: string };
  type_meta: { kind: string };
  checks: { check: { id: string }; grade: number; skipped: boolean; comments: { summary: string; description: string }[] | null }[];
}

let kubeScore: string;

async function score(yaml: string): Promise<ScoredObject[]> {
  const args = ['score', '-', '--output-format', 'json', '--kubernetes-version', 'v1.31', ...optionalChecks.flatMap((c) => ['--enable-optional-test', c])];
  // kube-score exits 1 when it has findings; the JSON on stdout is what the tests read.
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = execFile(kubeScore, args, { maxBuffer: 32 * 1024 * 1024 }, (error, out, stderr) => {
      if (error && !out) reject(new Error(`kube-score failed: ${stderr || error.message}`));
      else resolve(out);
    });
    child.stdin?.end(yaml);
  });
  return JSON.parse(stdout) as ScoredObject[];
}

/** Checks below full marks that were not skipped: "<kind>/<name> <check>: <summary>". */
function findings(scored: ScoredObject[]): string[] {
  return scored.flatMap((o) =>
    o.checks
      .filter((c) => !c.skipped && c.grade < 10)
      .map((c) => `${o.type_meta.kind}/${o.object_meta.name} ${c.check.id}: ${(c.comments ?? []).map((m) => m.summary).join('; ')}`),
  );
}

/** Ignored checks without a "# kube-score/ignore <check>: <why>" comment in the object's template. */
function unjustifiedIgnores(yaml: string): string[] {
  const missing: string[] = [];
  for (const object of parseRendered(yaml)) {
    const ignored = object.metadata.annotations?.['kube-score/ignore'];
    if (!ignored) continue;
    for (const check of ignored.split(',').map((c) => c.trim())) {
      const justification = new RegExp(`^\\s*# kube-score/ignore ${check}: .{30,}$`, 'm');
      if (!justification.test(object.text)) missing.push(`${object.kind}/${object.metadata.name} ${check}`);
    }
  }
  return missing;
}

const variants: [string, Record<string, unknown>][] = [
  ['default values', {}],
  [
    'custom programs, ServiceMonitor, privileged agent, extra allow-list',
    {
      customPrograms: { enabled: true },
      metrics: { serviceMonitor: { enabled: true } },
      agent: { privileged: true },
      sysctlAllowlist: { extra: { denied: [{ pattern: 'kernel.sched_*', why: 'This platform keeps the scheduler as it is.' }] } },
    },
  ],
];

describe('kube-score over the rendered chart', () => {
  beforeAll(async () => {
    const { stdout } = await run('bash', [join(projectRoot, 'hack', 'install-kube-score.sh')]);
    kubeScore = stdout.trim().split('\n').pop()!;
  }, 600_000);

  it.each(variants)('reports nothing unjustified with %s', async (_name, values) => {
    const yaml = await renderText(values);
    const scored = await score(yaml);
    // It scored the workloads: each got its security-context, resource and probe checks.
    for (const kind of ['Deployment', 'DaemonSet']) {
      const ids = scored.find((o) => o.type_meta.kind === kind)?.checks.map((c) => c.check.id) ?? [];
      expect(ids, kind).toEqual(
        expect.arrayContaining(['container-resources', 'container-security-context-readonlyrootfilesystem', 'container-seccomp-profile']),
      );
    }
    expect(findings(scored)).toEqual([]);
    expect(unjustifiedIgnores(yaml), 'kube-score/ignore entries without a "# kube-score/ignore <check>: <why>" comment').toEqual([]);
  });

  it('catches what it should: a latest tag, a missing limit, an ignore without a reason', async () => {
    const yaml = await renderText({ operator: { image: { tag: 'latest' }, resources: { limits: null } } });
    const reported = findings(await score(yaml));
    expect(reported).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Deployment\/ksleuth-operator container-image-tag: /),
        expect.stringMatching(/^Deployment\/ksleuth-operator container-resources: /),
      ]),
    );
    const stripped = yaml.replace(/^\s*# kube-score\/ignore pod-networkpolicy: .*$/m, '');
    expect(unjustifiedIgnores(stripped)).toEqual(['DaemonSet/ksleuth-agent pod-networkpolicy']);
  });
});
