/** Rendering and installing the chart with the locally built helm, for the chart tests. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { parse, parseAllDocuments, stringify } from 'yaml';
import type { KubeObject } from '../../lib/kube/client.js';
import { core } from '../../lib/kube/resources.js';
import type { LocalCluster } from '../harness/cluster.js';
import { ensureBinaries, kubernetesVersion } from '../harness/binaries.js';
import { projectRoot } from '../../lib/paths.js';
import { buildAllowList, shippedAllowListPath, type AllowList } from '../../lib/sysctl/index.js';

const run = promisify(execFile);

export const chartDir = join(projectRoot, 'charts', 'ksleuth');
export const namespace = 'ksleuth-system';
export const release = 'ksleuth';

/** A rendered object, with the template it came from and its YAML text (comments included). */
export interface Rendered extends KubeObject {
  kind: string;
  apiVersion: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  source: string;
  text: string;
}

export interface HelmResult {
  stdout: string;
  stderr: string;
}

/** Runs helm; rejects with an Error whose message is helm's stderr. */
export async function helm(args: string[], options: { kubeconfig?: string } = {}): Promise<HelmResult> {
  const { helm: binary } = await ensureBinaries();
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(tmpdir(), 'ksleuth-helm-cache'),
    HELM_CONFIG_HOME: join(tmpdir(), 'ksleuth-helm-config'),
    HELM_DATA_HOME: join(tmpdir(), 'ksleuth-helm-data'),
  };
  try {
    return await run(binary, [...args, ...(options.kubeconfig ? ['--kubeconfig', options.kubeconfig] : [])], { maxBuffer: 64 * 1024 * 1024, env });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`helm ${args[0]} failed: ${stderr || (error as Error).message}`);
  }
}

/** Runs `work` with the values written to a file, as `-f <file>` arguments. */
export async function withValues<T>(values: Record<string, unknown>, work: (args: string[]) => Promise<T>): Promise<T> {
  if (Object.keys(values).length === 0) return work([]);
  const dir = await mkdtemp(join(tmpdir(), 'ksleuth-values-'));
  try {
    const file = join(dir, 'values.yaml');
    await writeFile(file, stringify(values));
    return await work(['-f', file]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `helm template` of the chart with the given values; the YAML text. */
export function renderText(values: Record<string, unknown> = {}, extraArgs: string[] = []): Promise<string> {
  return withValues(
    values,
    async (args) =>
      (await helm(['template', release, chartDir, '--namespace', namespace, '--kube-version', kubernetesVersion(), ...args, ...extraArgs])).stdout,
  );
}

/** Splits rendered YAML into objects, each with its template and text. */
export function parseRendered(text: string): Rendered[] {
  const objects: Rendered[] = [];
  for (const doc of parseAllDocuments(text)) {
    const value = doc.toJS() as Rendered | null;
    if (!value || typeof value !== 'object') continue;
    const docText = doc.toString();
    const source = /# Source: ([^\n]+)/.exec(docText)?.[1] ?? '';
    objects.push({ ...value, source, text: docText });
  }
  return objects;
}

export async function render(values: Record<string, unknown> = {}, extraArgs: string[] = []): Promise<Rendered[]> {
  return parseRendered(await renderText(values, extraArgs));
}

/** The one rendered object of a kind (and name suffix); throws when there is not exactly one. */
export function one(objects: Rendered[], kind: string, nameEndsWith = ''): Rendered {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name.endsWith(nameEndsWith));
  if (found.length !== 1) throw new Error(`expected one ${kind} named *${nameEndsWith}, found ${found.map((o) => o.metadata.name).join(', ') || 'none'}`);
  return found[0]!;
}

/** The variables of a rendered ValidatingAdmissionPolicy, by name. */
export function policyVariables(policy: Rendered): Record<string, string> {
  return Object.fromEntries((policy.spec.variables as { name: string; expression: string }[]).map((v) => [v.name, v.expression]));
}

/** Adds simulated nodes with the ephemeral storage a real node reports (kwok's report none, and the chart's pods request some). */
export async function addNodes(cluster: LocalCluster, names: string[]): Promise<void> {
  await cluster.addNodes(names.map((name) => ({ name })));
  await cluster.waitForNodesReady(names);
  const storage = { 'ephemeral-storage': '100Gi' };
  for (const name of names) await cluster.client().patch(core.nodes, name, { status: { capacity: storage, allocatable: storage } }, { subresource: 'status' });
}

/** `helm install` (or upgrade with --reuse-values) of the chart into the cluster, waiting for its pods. */
export function helmInstall(cluster: LocalCluster, values: Record<string, unknown> = {}, command: 'install' | 'upgrade' = 'install'): Promise<string> {
  const extra = command === 'install' ? ['--create-namespace'] : ['--reuse-values'];
  return withValues(
    values,
    async (args) =>
      (
        await helm([command, release, chartDir, '--namespace', namespace, ...extra, '--wait', '--timeout', '120s', ...args], {
          kubeconfig: cluster.kubeconfigPath,
        })
      ).stdout,
  );
}

/** Polls `check` every 250 ms until it returns true (a rejection counts as not yet); fails after timeoutMs naming `what`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const done = await check().catch((error: unknown) => {
      lastError = error;
      return false;
    });
    if (done) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    await sleep(250);
  }
}

/** The allow-list the agent loads: the shipped file, merged with `extra` (its parsed data) when given. */
export async function allowListWith(extra?: unknown): Promise<AllowList> {
  const base = { source: 'config/sysctl-allowlist.yaml', data: parse(await readFile(shippedAllowListPath, 'utf8')) };
  return buildAllowList(extra === undefined ? [base] : [base, { source: 'extra', data: extra }]);
}
