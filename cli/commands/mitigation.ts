import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.js';
import { getInvestigation } from '../investigations.js';
import { clusterClient, kubeOptions, kubeUsage } from '../kube.js';
import { mitigationFromFinding, mitigationYaml } from '../mitigation-from-finding.js';

export const mitigation: Command = {
  summary: 'Turn a finding’s suggested sysctls into a KernelMitigation YAML for Git',
  usage: `Print a KernelMitigation built from a finding's suggested mitigation, ready to commit to Git.

  ksleuth mitigation from-finding INVESTIGATION PATTERN [--name NAME] [--dry-run]

It keeps the investigation's node selector and, when the investigation compared kernel versions,
limits it to the kernel versions that showed the finding.
  --name NAME        the mitigation's name (default: <pattern>-<investigation>)
  --dry-run          set spec.dryRun: nodes report current and desired values, nothing is written
${kubeUsage}`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...kubeOptions, name: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } },
      allowPositionals: true,
      strict: true,
    });
    const [verb, investigationName, pattern] = positionals;
    if (verb !== 'from-finding' || !investigationName || !pattern || positionals.length > 3) {
      throw new UsageError('use: ksleuth mitigation from-finding INVESTIGATION PATTERN');
    }
    const client = clusterClient(values);
    try {
      const investigation = await getInvestigation(client, investigationName);
      const { mitigation: built, finding } = mitigationFromFinding(investigation, pattern, { name: values.name, dryRun: values['dry-run'] });
      process.stdout.write(mitigationYaml(built, finding));
      return 0;
    } finally {
      client.close();
    }
  },
};
