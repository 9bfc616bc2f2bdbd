import { parseArgs } from 'node:util';
import { ksleuth } from '../../lib/kube/resources.js';
import { apiVersion } from '../../api/v1alpha1/common.js';
import type { KernelInvestigation, KernelMitigation } from '../../api/v1alpha1/resources.js';
import { mitigationTable } from '../mitigation-list.js';
import { formatDuration } from '../../lib/duration.js';
import { UsageError, type Command } from '../command.js';
import { exitCodes, exitCodesUsage, failOnOption, failOnSeverity, failOnUsage, reaches } from '../fail-on.js';
import { renderInvestigation } from '../investigation-view.js';
import { capturesOf, getInvestigation } from '../investigations.js';
import { clusterClient, kubeOptions, kubeUsage } from '../kube.js';
import { isMachineFormat, outputFormat, outputOption, outputUsage, printObjects, type OutputFormat } from '../output.js';
import { table } from '../table.js';

const formats: OutputFormat[] = ['table', 'wide', 'json', 'yaml', 'name'];

function age(investigation: KernelInvestigation, now: number): string {
  const created = investigation.metadata.creationTimestamp;
  return created ? formatDuration((now - Date.parse(String(created))) / 1000) : '';
}

function listTable(items: KernelInvestigation[], wide: boolean): string {
  const now = Date.now();
  const headers = ['name', 'phase', 'nodes', 'findings', 'severity', 'age', ...(wide ? ['captures', 'duration', 'compare-by', 'description'] : [])];
  return table(
    headers,
    items.map((i) => [
      i.metadata.name,
      i.status?.phase ?? 'Pending',
      i.status?.progress ?? '',
      i.status?.findingCount ?? 0,
      i.status?.highestSeverity ?? '',
      age(i, now),
      ...(wide
        ? [
            i.spec.captures.map((c) => c.name ?? Object.keys(c).find((k) => k !== 'name')).join(','),
            `${i.spec.durationSeconds}s`,
            i.spec.compareBy?.nodeLabel ?? (i.spec.compareBy?.kernelVersion ? 'kernelVersion' : ''),
            (i.spec.description ?? '').slice(0, 60),
          ]
        : []),
    ]),
  );
}

export const get: Command = {
  usage: `Show a KernelInvestigation's status and findings as tables (or list them).

  ksleuth get [INVESTIGATION] [-o json|yaml|wide|name] [--fail-on SEVERITY]
  ksleuth get mitigations [-o json|yaml|wide|name]

With no INVESTIGATION, lists the investigations. "mitigations" (or kmit) lists the
KernelMitigations: nodes applied, and pods whose own network namespace holds the net.* sysctls.
${outputUsage(formats)}
  --json             one investigation and its KernelCaptures as one JSON document
${failOnUsage}
${kubeUsage}

${exitCodesUsage}`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...kubeOptions, ...outputOption, ...failOnOption, json: { type: 'boolean', default: false } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 1) throw new UsageError('give one investigation name');
    const format = outputFormat(values.output, formats);
    const threshold = failOnSeverity(values['fail-on']);
    const client = clusterClient(values);
    try {
      if (positionals[0] === 'mitigations' || positionals[0] === 'kmit') {
        if (positionals.length > 1) throw new UsageError('ksleuth get mitigations lists them all; kubectl get kmit NAME -o yaml shows one');
        const items = (await client.listAll<KernelMitigation>(ksleuth('KernelMitigation'))).items.map((m) => ({
          ...m,
          apiVersion: m.apiVersion ?? apiVersion,
          kind: 'KernelMitigation',
        }));
        if (values.json || isMachineFormat(format)) printObjects(values.json ? 'json' : (format as 'json' | 'yaml' | 'name'), items);
        else if (items.length === 0) console.log('No mitigations.');
        else console.log(mitigationTable(items, format === 'wide'));
        return exitCodes.ok;
      }
      const name = positionals[0];
      if (!name) {
        const items = (await client.listAll<KernelInvestigation>(ksleuth('KernelInvestigation'))).items.map(withKind);
        if (values.json || isMachineFormat(format)) printObjects(values.json ? 'json' : (format as 'json' | 'yaml' | 'name'), items);
        else if (items.length === 0) console.log('No investigations.');
        else console.log(listTable(items, format === 'wide'));
        return items.some((i) => reaches(i.status?.highestSeverity, threshold)) ? exitCodes.findings : exitCodes.ok;
      }
      const investigation = withKind(await getInvestigation(client, name));
      if (isMachineFormat(format)) printObjects(format, investigation);
      else {
        const captures = await capturesOf(client, name);
        if (values.json) console.log(JSON.stringify({ investigation, captures }, null, 2));
        else console.log(renderInvestigation(investigation, captures, { wide: format === 'wide' }));
      }
      return reaches(investigation.status?.highestSeverity, threshold) ? exitCodes.findings : exitCodes.ok;
    } finally {
      client.close();
    }
  },
};

/** List items come without apiVersion and kind; -o prints them as kubectl does, with both. */
function withKind(investigation: KernelInvestigation): KernelInvestigation {
  return { ...investigation, apiVersion: investigation.apiVersion ?? apiVersion, kind: 'KernelInvestigation' };
}
