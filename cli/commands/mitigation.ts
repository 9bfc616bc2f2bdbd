import { parseArgs } from 'node:util';
import type { V1Node } from '@kubernetes/client-node';
import type { KubeClient } from '../../lib/kube/client.js';
import { core } from '../../lib/kube/resources.js';
import { UsageError, type Command } from '../command.js';
import { getInvestigation } from '../investigations.js';
import { clusterClient, kubeOptions, kubeUsage } from '../kube.js';
import { mitigationFromFinding, mitigationYaml } from '../mitigation-from-finding.js';
import { outputFormat, outputOption, outputUsage, printObjects, type OutputFormat } from '../output.js';

const formats: OutputFormat[] = ['yaml', 'json', 'name'];

export const mitigation: Command = {
  usage: `Print a KernelMitigation built from a finding's suggested mitigation, ready to commit to Git.

  ksleuth mitigation from-finding INVESTIGATION PATTERN [--name NAME] [--dry-run] [-o yaml|json|name]

It keeps the investigation's nodes: its selector, or its node names as a kubernetes.io/hostname
In [...] requirement; it refuses where one selector cannot say which nodes (never one that matches
every node). When the investigation compared kernel versions, kernelVersions is the range the
comparison showed ("seen on X and later, not on Y and earlier" within each distribution), or the
releases that showed the finding where the evidence does not order.
  --name NAME        the mitigation's name (default: <pattern>-<investigation>)
  --dry-run          set spec.dryRun: nodes report current and desired values, nothing is written
${outputUsage(formats)}
                     (default: YAML with a comment that says where it came from)
${kubeUsage}`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...kubeOptions, ...outputOption, name: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } },
      allowPositionals: true,
      strict: true,
    });
    const [verb, investigationName, pattern] = positionals;
    if (verb !== 'from-finding' || !investigationName || !pattern || positionals.length > 3) {
      throw new UsageError('use: ksleuth mitigation from-finding INVESTIGATION PATTERN');
    }
    const format = outputFormat(values.output, formats, 'yaml');
    const client = clusterClient(values);
    try {
      const investigation = await getInvestigation(client, investigationName);
      const hostnames = await hostnameLabels(client, investigation.spec.nodes.names ?? []);
      const built = mitigationFromFinding(investigation, pattern, { name: values.name, dryRun: values['dry-run'], hostnames });
      if (format === 'yaml') process.stdout.write(mitigationYaml(built.mitigation, built.finding, built.notes));
      else printObjects(format as 'json' | 'name', built.mitigation);
      return 0;
    } finally {
      client.close();
    }
  },
};

/** The kubernetes.io/hostname label of each named node that can be read. */
async function hostnameLabels(client: KubeClient, names: string[]): Promise<Map<string, string>> {
  const labels = new Map<string, string>();
  for (const name of names.slice(0, 64)) {
    const node = await client.get<V1Node>(core.nodes, name).catch(() => undefined);
    const hostname = node?.metadata?.labels?.['kubernetes.io/hostname'];
    if (hostname) labels.set(name, hostname);
  }
  return labels;
}
