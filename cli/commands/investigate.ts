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
import { workloadFromOption, workloadUsage } from '../workload-option.js';
import { resolveWorkload, workloadKindIds } from '../../api/v1alpha1/workloads.js';

const formats: OutputFormat[] = ['table', 'wide', 'json', 'yaml', 'name'];

const usage = `Run kernel captures and report findings.

On nodes of a cluster (creates a KernelInvestigation):
  ksleuth investigate (--nodes a,b | --selector key=value) [--capture a,b,...] [--duration 30s]
                      [--name NAME] [--max-nodes N] [--compare-by kernel|label=KEY]
                      [--workload W [--baseline]] [--baseline-from INVESTIGATION]
                      [--wait [--fail-on SEVERITY]] [--dry-run] [-o json|yaml|wide|name]
On this machine (no cluster needed):
  ksleuth investigate --local [--capture a,b,...] [--duration 30s] [--workload REPRODUCER [--baseline]]
                      [--out DIR] [--json]

Options:
  --capture LIST     captures to run (default: ${defaultCaptures.join(',')});
                     any of kmalloc, slab, memory, cpu-profile, ftrace, io-latency, tcp,
                     kernel-log, bundle, bpftrace
  --set C.P=V        a capture parameter, e.g. --set cpu-profile.frequencyHz=199,
                     --set ftrace.events=block:block_rq_issue,block:block_rq_complete,
                     --set bpftrace.program=@prog.bt (repeatable)
  --duration D       how long to capture: 30s, 2m (default 30s, at most ${maxInvestigationDurationSeconds / 60}m)
${workloadUsage}
  --baseline         first run the same captures without the workload for as long (a baseline
                     window), then with it, and report what changed (spec.baseline.run)
  --baseline-from N  compare with the earlier KernelInvestigation N (spec.baseline.investigation)
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
        workload: { type: 'string' },
        baseline: { type: 'boolean', default: false },
        'baseline-from': { type: 'string' },
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
    const workload = workloadFromOption(values.workload);
    if (values.baseline && values['baseline-from'] !== undefined) {
      throw new UsageError('--baseline and --baseline-from: use one (a baseline window first, or an earlier investigation to compare with)');
    }
    if (values.baseline && !workload) {
      throw new UsageError(
        '--baseline runs the captures without the workload first, then with it: add --workload (a built-in reproducer' +
          `${values.local ? '' : ', or @FILE with a Pod'})${values.local ? '' : ', or compare with an earlier investigation (--baseline-from NAME)'}`,
      );
    }
    if (values.local) {
      if (values.output !== undefined) throw new UsageError('--local prints tables, or a JSON report with --json');
      if (values.nodes || values.selector) throw new UsageError('--local runs on this machine: leave out --nodes and --selector');
      if (workload?.pod) {
        throw new UsageError(
          `--workload ${values.workload}: a Pod workload (spec.workload.pod) needs a cluster to schedule it on each node; ` +
            `leave out --local to run it in the cluster, or on this machine use a built-in reproducer (--workload ${workloadKindIds.join('|')}) ` +
            'or start its command yourself beside `ksleuth investigate --local`',
        );
      }
      if (values['baseline-from'] !== undefined) {
        throw new UsageError(
          `--baseline-from ${values['baseline-from']}: compares with an earlier KernelInvestigation in a cluster; on this machine use --baseline (a baseline window without the workload first)`,
        );
      }
      // The engine and every capture module load only for --local: `investigate --help` and
      // cluster runs stay fast to start.
      const { investigateLocally } = await import('../local-investigation.js');
      return investigateLocally({
        captures: entries.map(resolveCaptureEntry),
        durationSeconds,
        outDir: values.out,
        json: values.json,
        ...(workload ? { workload: resolveWorkload(workload) } : {}),
        baseline: values.baseline,
      });
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
      workload,
      ...(values.baseline ? { baseline: { run: true } } : {}),
      ...(values['baseline-from'] !== undefined ? { baseline: { investigation: values['baseline-from'] } } : {}),
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
