import { parseArgs } from 'node:util';
import { maxInvestigationDurationSeconds } from '../../api/v1alpha1/investigation.js';
import { parseDurationSeconds } from '../../lib/duration.js';
import { captureEntriesFromOptions, defaultCaptures } from '../capture-options.js';
import { buildInvestigation, createInvestigation, toYaml, waitAndShow } from '../cluster-investigation.js';
import { UsageError, type Command } from '../command.js';
import { exitCodesUsage, failOnOption, failOnSeverity, failOnUsage } from '../fail-on.js';
import { clusterClient, kubeOptions, kubeUsage } from '../kube.js';
import { isMachineFormat, outputFormat, outputOption, outputUsage, printObjects, resourceName, type OutputFormat } from '../output.js';
import { resolveCaptureEntry } from '../../api/v1alpha1/capture-entry.js';

const formats: OutputFormat[] = ['table', 'wide', 'json', 'yaml', 'name'];

const usage = `Run kernel captures and report findings.

On nodes of a cluster (creates a KernelInvestigation):
  ksleuth investigate (--nodes a,b | --selector key=value) [--capture a,b,...] [--duration 30s]
                      [--name NAME] [--max-nodes N] [--compare-by kernel|label=KEY]
                      [--wait [--fail-on SEVERITY]] [--dry-run] [-o json|yaml|wide|name]
On this machine (no cluster needed):
  ksleuth investigate --local [--capture a,b,...] [--duration 30s] [--out DIR] [--json]

Options:
  --capture LIST     captures to run (default: ${defaultCaptures.join(',')});
                     any of kmalloc, slab, memory, cpu-profile, ftrace, io-latency, tcp,
                     kernel-log, bundle, bpftrace
  --set C.P=V        a capture parameter, e.g. --set cpu-profile.frequencyHz=199,
                     --set ftrace.events=block:block_rq_issue,block:block_rq_complete,
                     --set bpftrace.program=@prog.bt (repeatable)
  --duration D       how long to capture: 30s, 2m (default 30s, at most ${maxInvestigationDurationSeconds / 60}m)
  --nodes LIST       nodes by name
  --selector SEL     nodes by label: key=value, key!=value, key, !key (comma-separated, all must hold)
  --max-nodes N      at most this many nodes (default 10)
  --compare-by X     group nodes by kernel version ("kernel") or a node label ("label=KEY")
  --description T    the symptom, for the people reading the result
  --name NAME        the investigation's name (default: generated)
  --wait             wait for the result and print it
  --dry-run          print the KernelInvestigation (YAML, or -o json) instead of creating it
${outputUsage(formats)}
                     without --wait: -o name prints the created investigation's name
${failOnUsage}
  --local            run on this machine instead
  --out DIR          (--local) where to write artifacts (default ./ksleuth-<time>)
  --json             (--local) print a JSON report instead of tables
${kubeUsage}

${exitCodesUsage}`;

export const investigate: Command = {
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        ...kubeOptions,
        local: { type: 'boolean' },
        capture: { type: 'string', multiple: true },
        set: { type: 'string', multiple: true },
        duration: { type: 'string', default: '30s' },
        out: { type: 'string' },
        json: { type: 'boolean', default: false },
        nodes: { type: 'string' },
        selector: { type: 'string' },
        'max-nodes': { type: 'string' },
        'compare-by': { type: 'string' },
        description: { type: 'string' },
        name: { type: 'string' },
        wait: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        ...outputOption,
        ...failOnOption,
      },
      strict: true,
    });
    let durationSeconds: number;
    try {
      durationSeconds = Math.round(parseDurationSeconds(values.duration));
    } catch (error) {
      throw new UsageError(`--duration: ${(error as Error).message}`);
    }
    if (durationSeconds < 1 || durationSeconds > maxInvestigationDurationSeconds) {
      throw new UsageError(`--duration must be between 1s and ${maxInvestigationDurationSeconds}s`);
    }
    const entries = captureEntriesFromOptions(values.capture, values.set);
    const threshold = failOnSeverity(values['fail-on']);
    if (values.local) {
      if (values.output !== undefined) throw new UsageError('--local prints tables, or a JSON report with --json');
      if (values.nodes || values.selector) throw new UsageError('--local runs on this machine: leave out --nodes and --selector');
      // The engine and every capture module load only for --local: `investigate --help` and
      // cluster runs stay fast to start.
      const { investigateLocally } = await import('../local-investigation.js');
      return investigateLocally({ captures: entries.map(resolveCaptureEntry), durationSeconds, outDir: values.out, json: values.json });
    }
    const maxNodes = values['max-nodes'] === undefined ? undefined : Number(values['max-nodes']);
    if (maxNodes !== undefined && !Number.isInteger(maxNodes)) throw new UsageError(`--max-nodes ${values['max-nodes']}: use a whole number of nodes`);
    const investigation = buildInvestigation({
      name: values.name,
      description: values.description,
      nodes: values.nodes
        ?.split(',')
        .map((n) => n.trim())
        .filter(Boolean),
      selector: values.selector,
      maxNodes,
      captures: entries,
      durationSeconds,
      compareBy: values['compare-by'],
    });
    const format = outputFormat(values.output, formats, values['dry-run'] ? 'yaml' : 'table');
    if (threshold && !values.wait) throw new UsageError('--fail-on needs --wait: findings are known once the investigation has finished');
    if (values['dry-run']) {
      if (format === 'yaml') process.stdout.write(toYaml(investigation));
      else if (isMachineFormat(format)) printObjects(format, investigation);
      else throw new UsageError(`-o ${format}: --dry-run prints yaml, json or name`);
      return 0;
    }
    const client = clusterClient(values);
    try {
      const created = await createInvestigation(client, investigation);
      const name = created.metadata.name!;
      if (!values.wait) {
        if (isMachineFormat(format)) printObjects(format, created);
        else console.log(`${resourceName(created)} created`);
        console.error(`follow it with: ksleuth get ${name}`);
        return 0;
      }
      console.error(`${resourceName(created)} created`);
      const deadlineSeconds = created.spec.deadlineSeconds ?? durationSeconds + 120;
      return await waitAndShow(client, name, { timeoutMs: (deadlineSeconds + 180) * 1000, format, failOn: threshold });
    } finally {
      client.close();
    }
  },
};
