import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { KubeObject } from '../../lib/kube/client.js';
import { isNotFound } from '../../lib/kube/errors.js';
import { core, ksleuth } from '../../lib/kube/resources.js';
import { projectRoot } from '../../lib/paths.js';
import { useCluster } from '../helpers/cluster.js';
import { addNodes, helm, helmInstall, namespace, parseRendered, release, renderText, until, type Rendered } from './chart.js';

// kube-scheduler places the pods; kwok marks them Running. The chart installs the CRDs itself.
const cluster = useCluster({ scheduler: true, installCrds: false });
const nodes = ['node-1', 'node-2', 'node-3'];

interface Pod extends KubeObject {
  spec: { nodeName?: string };
  status?: { phase?: string };
}

async function pods(component: 'operator' | 'agent'): Promise<Pod[]> {
  const list = await cluster()
    .client()
    .list<Pod>(core.pods(namespace), { labelSelector: `app.kubernetes.io/instance=${release},app.kubernetes.io/component=${component}` });
  return list.items.filter((p) => !p.metadata.deletionTimestamp);
}

function install(values: Record<string, unknown> = {}): Promise<string> {
  return helmInstall(cluster(), values);
}

/** Whether an object of the rendered chart still exists on the server. */
async function exists(object: Rendered): Promise<boolean> {
  const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : '';
  const args = ['get', group ? `${object.kind}.${group}` : object.kind, object.metadata.name, '--ignore-not-found', '-o', 'name'];
  if (object.metadata.namespace) args.push('-n', object.metadata.namespace);
  return (await cluster().kubectl(args)).stdout.trim() !== '';
}

describe('the chart on a real control plane', () => {
  beforeAll(async () => {
    await addNodes(cluster(), nodes);
  });

  it('every rendered object passes kubectl apply --dry-run=server, with default and non-default values', async () => {
    for (const crd of ['servicemonitors', 'podmonitors', 'prometheusrules']) {
      await cluster().kubectl(['apply', '--server-side', '-f', join(projectRoot, 'test', 'fixtures', 'chart', `monitoring.coreos.com_${crd}.yaml`)]);
    }
    await cluster().waitForCrdsEstablished({ names: ['servicemonitors', 'podmonitors', 'prometheusrules'].map((crd) => `${crd}.monitoring.coreos.com`) });
    await cluster().kubectl(['create', 'namespace', namespace]);
    const extra = parse(await readFile(join(projectRoot, 'test', 'fixtures', 'sysctl', 'allowlist-extra.yaml'), 'utf8'));
    const variants = [
      {},
      {
        customPrograms: { enabled: true },
        sysctlAllowlist: { extra },
        metrics: { serviceMonitor: { enabled: true } },
        agent: { privileged: true },
        operator: { replicas: 1, leaderElect: false },
      },
      { metrics: { podMonitor: { enabled: true }, prometheusRule: { enabled: true }, grafanaDashboard: { enabled: true } } },
    ];
    for (const values of variants) {
      const yaml = await renderText(values);
      const objects = parseRendered(yaml);
      const { stdout } = await cluster().kubectl(['apply', '--dry-run=server', '--server-side', '--field-manager=chart-test', '-f', '-'], { input: yaml });
      const accepted = stdout
        .trim()
        .split('\n')
        .filter((line) => /\(server dry run\)$/.test(line));
      expect(accepted, stdout).toHaveLength(objects.length);
    }
    await cluster().kubectl(['delete', 'namespace', namespace, '--wait=true']);
  });

  it('helm install places two operator pods and one agent on every node, and prints the next step', async () => {
    const notes = await install();
    expect(notes).toMatch(/STATUS: deployed/);
    expect(notes).toMatch(/kind: KernelInvestigation[\s\S]*kubectl describe kinv quick-health/);
    const operators = await pods('operator');
    expect(operators).toHaveLength(2);
    for (const pod of operators) expect(pod.status?.phase).toBe('Running');
    expect(new Set(operators.map((p) => p.spec.nodeName)).size, 'operator pods spread over nodes').toBe(2);
    const agents = await pods('agent');
    expect(agents.map((p) => p.spec.nodeName).sort()).toEqual(nodes);
    for (const pod of agents) expect(pod.status?.phase).toBe('Running');
    // The CRDs came with the chart and serve requests.
    const { stdout } = await cluster().kubectl(['get', 'crd', '-l', 'app.kubernetes.io/part-of=ksleuth', '-o', 'name']);
    const shipped = (await readFile(join(projectRoot, 'manifests', 'ksleuth.yaml'), 'utf8')).match(/^kind: CustomResourceDefinition$/gm) ?? [];
    expect(stdout.trim().split('\n')).toHaveLength(shipped.length);
    await cluster().kubectl(['apply', '-f', join(projectRoot, 'manifests', 'examples', 'investigation-quick-health.yaml')]);
  });

  it('a new node gets an agent too', async () => {
    await addNodes(cluster(), ['node-4']);
    await until('an agent on node-4', async () => (await pods('agent')).some((p) => p.spec.nodeName === 'node-4' && p.status?.phase === 'Running'), 60_000);
    expect((await pods('agent')).length).toBe(4);
  });

  it('helm uninstall removes everything but the CRDs and the ksleuth resources when crds.keep is set', async () => {
    const installed = parseRendered(await renderText());
    await helm(['uninstall', release, '--namespace', namespace, '--wait', '--timeout', '120s'], { kubeconfig: cluster().kubeconfigPath });
    for (const object of installed) {
      const kept = object.kind === 'CustomResourceDefinition';
      expect(await exists(object), `${object.kind}/${object.metadata.name}`).toBe(kept);
    }
    await until("the chart's pods to be gone", async () => (await pods('operator')).length + (await pods('agent')).length === 0, 60_000);
    // The investigation outlives the chart with its CRD.
    const investigation = await cluster().client().get<KubeObject>(ksleuth('KernelInvestigation'), 'quick-health');
    expect(investigation.metadata.name).toBe('quick-health');
  });

  it('a new install adopts the kept CRDs, and with crds.keep=false its uninstall removes them', async () => {
    await install({ crds: { keep: false } });
    const crd = await cluster().client().get<KubeObject>(core.crds, 'kernelinvestigations.ksleuth.io');
    // Adopted by the new release; Helm decides what to keep from the release's manifest, which lacks the keep policy now.
    expect(crd.metadata.annotations?.['meta.helm.sh/release-name']).toBe(release);
    await helm(['uninstall', release, '--namespace', namespace], { kubeconfig: cluster().kubeconfigPath });
    // Helm's part is the DELETE; the API server then removes the instances before the CRD itself, in
    // its own time (its CRD finalizer can wait for a cache resync), so only the request is asserted.
    for (const plural of ['kernelinvestigations', 'kernelcaptures', 'kernelmitigations', 'kernelnodes']) {
      const left = await cluster()
        .client()
        .get<KubeObject>(core.crds, `${plural}.ksleuth.io`)
        .catch((e: unknown) => {
          if (isNotFound(e)) return undefined;
          throw e;
        });
      expect(left === undefined || left.metadata.deletionTimestamp !== undefined, `${plural}.ksleuth.io is deleted or being deleted`).toBe(true);
    }
  });
});
