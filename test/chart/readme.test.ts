import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { chartReadme, chartReadmePath } from '../../hack/chart-readme.js';
import { projectRoot } from '../../lib/paths.js';
import { chartDir } from './chart.js';

describe('the chart README', () => {
  it('is generated from values.yaml and Chart.yaml and up to date (run npx tsx hack/chart-readme.ts)', async () => {
    expect(await readFile(chartReadmePath, 'utf8')).toBe(await chartReadme());
  });

  it('lists every value with its default and description', async () => {
    const readme = await readFile(chartReadmePath, 'utf8');
    expect(readme).toContain('| `agent.seLinuxOptions` | `{"type":"spc_t"}` | SELinux options of the agent container');
    expect(readme).toContain('| `agent.appArmorProfile` | `{"type":"Unconfined"}` | AppArmor profile of the agent container');
    expect(readme).toContain('the &lt;fullname&gt;-custom-programs ClusterRole');
  });

  it('creates the namespace with the privileged Pod Security label before helm installs into it', async () => {
    const readme = await readFile(chartReadmePath, 'utf8');
    const commands = /## Install[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)![1]!.trim().split('\n');
    expect(commands).toEqual([
      'kubectl create namespace ksleuth-system',
      'kubectl label namespace ksleuth-system pod-security.kubernetes.io/enforce=privileged',
      expect.stringMatching(/^helm install ksleuth \S+ --version 0\.1\.0 --namespace ksleuth-system$/),
    ]);
    // The same label as the namespace of the plain manifests, which the install tests apply.
    const plain = await readFile(join(projectRoot, 'manifests', 'ksleuth.yaml'), 'utf8');
    expect(plain).toContain('pod-security.kubernetes.io/enforce: privileged');
  });
});

describe('the Artifact Hub annotations', () => {
  it('parse, name every CRD the chart ships and both images at appVersion, and carry the shipped examples', async () => {
    const chart = parse(await readFile(join(chartDir, 'Chart.yaml'), 'utf8')) as { appVersion: string; annotations: Record<string, string> };
    const a = chart.annotations;
    expect(a['artifacthub.io/license']).toBe(JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8')).license);
    const crds = parse(a['artifacthub.io/crds']!) as { kind: string; name: string }[];
    const shipped = (await import('../../api/v1alpha1/resources.js')).resources;
    expect(crds.map((c) => c.kind).sort()).toEqual(Object.keys(shipped).sort());
    for (const crd of crds) expect(crd.name).toBe(`${shipped[crd.kind as keyof typeof shipped].plural}.ksleuth.io`);
    const values = parse(await readFile(join(chartDir, 'values.yaml'), 'utf8')) as {
      operator: { image: { repository: string } };
      agent: { image: { repository: string } };
    };
    expect((parse(a['artifacthub.io/images']!) as { image: string }[]).map((i) => i.image)).toEqual([
      `${values.operator.image.repository}:${chart.appVersion}`,
      `${values.agent.image.repository}:${chart.appVersion}`,
    ]);
    const examples = await Promise.all(
      ['investigation-quick-health.yaml', 'mitigation-tcp-fastopen.yaml'].map(async (f) =>
        parse(await readFile(join(projectRoot, 'manifests', 'examples', f), 'utf8')),
      ),
    );
    expect(parse(a['artifacthub.io/crdsExamples']!)).toEqual(examples);
    for (const link of parse(a['artifacthub.io/links']!) as { url: string }[]) expect(link.url).toMatch(/^https:\/\//);
  });
});
