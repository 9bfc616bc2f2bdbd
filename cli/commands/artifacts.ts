import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import type { KernelCapture, KernelInvestigation, KernelNode } from '../../api/v1alpha1/resources.js';
import { artifactFilePath } from '../../lib/artifacts-api.js';
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
through the API server's artifacts.ksleuth.io API, and check each against its sha256.
Your kubeconfig's credentials (token, client certificate or exec plugin) stay with the API
server: the operator fetches from the nodes with its own identity.

  ksleuth artifacts get INVESTIGATION [--node NODE] [--out DIR] [--by-group]

  --node NODE        only this node's artifacts (repeatable)
  --out DIR          where to write them, one directory per node (default ./INVESTIGATION)
  --by-group         one directory per compareBy group (kernel version or label value), the
                     nodes' directories inside: "ksleuth flamegraph diff DIR/A DIR/B" then
                     compares two groups' CPU profiles

Needs get on captureartifacts and captureartifacts/files (group artifacts.ksleuth.io), as
the chart's <release>-artifact-reader ClusterRole grants; the same files are at
  kubectl get --raw /apis/artifacts.ksleuth.io/v1alpha1/captureartifacts/CAPTURE/files/FILE
${kubeUsage}`;

async function fetchArtifact(client: KubeClient, capture: string, file: string, target: string): Promise<void> {
  const res = await client.download(artifactFilePath(capture, file));
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
      },
      allowPositionals: true,
      strict: true,
    });
    const [verb, name] = positionals;
    if (verb !== 'get' || !name || positionals.length > 2) throw new UsageError('use: ksleuth artifacts get INVESTIGATION');
    const client = clusterClient(values);
    try {
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
        const kernelNode = values['by-group'] ? await client.get<KernelNode>(ksleuth('KernelNode'), node).catch(() => undefined) : undefined;
        const nodeDir = values['by-group'] && compareBy ? join(outDir, await groupOf(client, compareBy, capture, kernelNode), node) : join(outDir, node);
        // The baseline window's files (spec.baseline.run) have the same names as the workload window's.
        const dir = capture.spec.baseline ? join(nodeDir, 'baseline') : nodeDir;
        await mkdir(dir, { recursive: true });
        for (const ref of refs) {
          const target = join(dir, ref.name);
          try {
            await fetchArtifact(client, capture.metadata.name!, ref.name, target);
            const ok = (await sha256File(target)) === ref.sha256;
            if (!ok) failures++;
            rows.push([capture.spec.baseline ? `${node} (baseline)` : node, ref.name, formatBytes(ref.sizeBytes), ok ? 'sha256 ok' : 'SHA256 MISMATCH']);
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
