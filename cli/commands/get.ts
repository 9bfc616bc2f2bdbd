import { parseArgs } from 'node:util';
import { ksleuth } from '../../lib/kube/resources.js';
import type { KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { UsageError, type Command } from '../command.js';
import { renderInvestigation } from '../investigation-view.js';
import { capturesOf, getInvestigation } from '../investigations.js';
import { clusterClient, kubeOptions, kubeUsage } from '../kube.js';
import { table } from '../table.js';

export const get: Command = {
  usage: `Show a KernelInvestigation's status and findings as tables.

  ksleuth get [NAME] [--json]

With no NAME, lists the investigations.
  --json             print the investigation and its KernelCaptures as JSON
${kubeUsage}`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...kubeOptions, json: { type: 'boolean', default: false } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 1) throw new UsageError('give one investigation name');
    const client = clusterClient(values);
    try {
      const name = positionals[0];
      if (!name) {
        const list = await client.listAll<KernelInvestigation>(ksleuth('KernelInvestigation'));
        if (values.json) console.log(JSON.stringify(list.items, null, 2));
        else if (list.items.length === 0) console.log('No investigations.');
        else
          console.log(
            table(
              ['name', 'phase', 'nodes', 'findings', 'severity'],
              list.items.map((i) => [
                i.metadata.name,
                i.status?.phase ?? 'Pending',
                i.status?.progress ?? '',
                i.status?.findingCount ?? 0,
                i.status?.highestSeverity ?? '',
              ]),
            ),
          );
        return 0;
      }
      const investigation = await getInvestigation(client, name);
      const captures = await capturesOf(client, name);
      if (values.json) console.log(JSON.stringify({ investigation, captures }, null, 2));
      else console.log(renderInvestigation(investigation, captures));
      return 0;
    } finally {
      client.close();
    }
  },
};
