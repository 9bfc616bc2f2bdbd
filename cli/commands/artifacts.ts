import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import type { KernelCapture, KernelInvestigation, KernelNode } from '../../api/v1alpha1/resources.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { ApiError } from '../../lib/kube/errors.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { sha256File } from '../../node-agent/engine/artifacts.js';
import { formatBytes } from '../../lib/findings.js';
import { UsageError, type Command } from '../command.js';
import { capturesOf, getInvestigation } from '../investigations.js';
import { clusterClient, kubeOptions, kubeUsage } from '../kube.js';
import { table } from '../table.js';

const usage = `Download an investigation's artifacts (flame graphs, bug-report bundles, raw outputs)
from the nodes' agents, through the API server, and check each against its sha256.

  ksleuth artifacts get INVESTIGATION [--node NODE] [--out DIR] [--by-group] [--token TOKEN]

  --node NODE        only this node's artifacts (repeatable)
  --out DIR          where to write them, one directory per node (default ./INVESTIGATION)
  --by-group         one directory per compareBy group (kernel version or label value), the
                     nodes' directories inside: "ksleuth flamegraph diff DIR/A DIR/B" then
                     compares two groups' CPU profiles
  --token TOKEN      the bearer token the agents check (default: your kubeconfig's token);
                     needs get on kernelcaptures/artifacts and pods/proxy in the agents' namespace
${kubeUsage}`;

function proxyPath(endpoint: NonNullable<NonNullable<KernelNode['status']>['agentEndpoint']>, capture: string, file: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(endpoint.namespace)}/pods/https:${encodeURIComponent(endpoint.pod)}:${endpoint.port}/proxy/artifacts/${encodeURIComponent(capture)}/${encodeURIComponent(file)}`;
}

async function fetchArtifact(client: KubeClient, path: string, token: string, target: string): Promise<void> {
  const res = await client.download(path, { 'X-Ksleuth-Token': token });
  await pipeline(res, createWriteStream(target));
}

/** The compareBy group a node's capture falls in, as the operator groups them, as a directory name. */
async function groupOf(
  client: KubeClient,
  compareBy: NonNullable<KernelInvestigation['spec']['compareBy']>,
  capture: KernelCapture,
  kernelNode: KernelNode | undefined,
): Promise<string> {
  let value: string;
  if (compareBy.nodeLabel) {
    const node = await client
      .get<{ metadata: { labels?: Record<string, string> } }>({ group: '', version: 'v1', plural: 'nodes' }, capture.spec.nodeName)
      .catch(() => undefined);
    value = node?.metadata.labels?.[compareBy.nodeLabel] ?? '<unset>';
  } else {
    value = capture.status?.kernelVersion ?? kernelNode?.status?.kernelVersion ?? '<unknown>';
  }
  return value.replaceAll('/', '_');
}

export const artifacts: Command = {
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...kubeOptions,
        node: { type: 'string', multiple: true },
        out: { type: 'string' },
        'by-group': { type: 'boolean', default: false },
        token: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
    const [verb, name] = positionals;
    if (verb !== 'get' || !name || positionals.length > 2) throw new UsageError('use: ksleuth artifacts get INVESTIGATION');
    const client = clusterClient(values);
    try {
      const token = values.token ?? (await client.bearerToken());
      if (!token) {
        throw new Error(
          'the agents check a bearer token, and your kubeconfig user has none (it uses a client certificate): pass --token, for example from "kubectl create token <serviceaccount>" for an account bound to the ksleuth artifact-reader role',
        );
      }
      const investigation = await getInvestigation(client, name);
      const compareBy = investigation.spec.compareBy;
      if (values['by-group'] && !compareBy) throw new UsageError(`investigation ${name} has no compareBy: there are no groups to sort its nodes into`);
      const captures = (await capturesOf(client, name)).filter((c) => !values.node || values.node.includes(c.spec.nodeName));
      const outDir = resolve(values.out ?? name);
      const rows: (string | number)[][] = [];
      let failures = 0;
      for (const capture of captures.sort((a, b) => a.spec.nodeName.localeCompare(b.spec.nodeName))) {
        const refs = capture.status?.artifacts ?? [];
        if (refs.length === 0) continue;
        const node = capture.spec.nodeName;
        const kernelNode = await client.get<KernelNode>(ksleuth('KernelNode'), node).catch(() => undefined);
        const endpoint = kernelNode?.status?.agentEndpoint;
        if (!endpoint) {
          rows.push([node, '-', '-', `the agent on ${node} does not serve artifacts (no agentEndpoint on its KernelNode)`]);
          failures++;
          continue;
        }
        const dir = values['by-group'] && compareBy ? join(outDir, await groupOf(client, compareBy, capture, kernelNode), node) : join(outDir, node);
        await mkdir(dir, { recursive: true });
        for (const ref of refs) {
          const target = join(dir, ref.name);
          try {
            await fetchArtifact(client, proxyPath(endpoint, capture.metadata.name!, ref.name), token, target);
            const ok = (await sha256File(target)) === ref.sha256;
            if (!ok) failures++;
            rows.push([node, ref.name, formatBytes(ref.sizeBytes), ok ? 'sha256 ok' : 'SHA256 MISMATCH']);
          } catch (error) {
            failures++;
            const message = error instanceof ApiError ? `${error.status}: ${error.serverMessage}` : (error as Error).message;
            rows.push([node, ref.name, formatBytes(ref.sizeBytes), `failed: ${message}`]);
          }
        }
      }
      if (rows.length === 0) {
        console.log(`No artifacts for ${name}${values.node ? ` on ${values.node.join(', ')}` : ''}.`);
        return 0;
      }
      console.log(table(['node', 'file', 'size', 'check'], rows));
      console.log(`\nWritten to ${outDir}`);
      return failures > 0 ? 1 : 0;
    } finally {
      client.close();
    }
  },
};
