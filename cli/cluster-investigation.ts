import type { Baseline } from '../api/v1alpha1/baseline.js';
import type { InvestigationWorkload } from '../api/v1alpha1/workloads.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import type { CaptureEntry } from '../api/v1alpha1/capture-entry.js';
import type { LabelSelector } from '../api/v1alpha1/common.js';
import { apiVersion } from '../api/v1alpha1/common.js';
import { investigationSpec } from '../api/v1alpha1/investigation.js';
import type { KernelInvestigation } from '../api/v1alpha1/resources.js';
import type { KubeClient } from '../lib/kube/client.js';
import { ApiError } from '../lib/kube/errors.js';
import { ksleuth } from '../lib/kube/resources.js';
import type { Severity } from '../api/v1alpha1/finding.js';
import { UsageError } from './command.js';
import { exitCodes, reaches } from './fail-on.js';
import { renderInvestigation } from './investigation-view.js';
import { capturesOf, getInvestigation } from './investigations.js';
import { isMachineFormat, printObjects, type OutputFormat } from './output.js';
import { statusLine } from './status-line.js';

export interface ClusterInvestigationRequest {
  name?: string;
  description?: string;
  nodes?: string[];
  selector?: string;
  maxNodes?: number;
  captures: CaptureEntry[];
  durationSeconds: number;
  compareBy?: string;
  /** spec.workload: a built-in reproducer or a Pod template (--workload). */
  workload?: InvestigationWorkload;
  /** spec.baseline: a baseline window first (--baseline) or an earlier investigation (--baseline-from). */
  baseline?: Baseline;
}

/** Parses "pool=db,zone!=a,gpu,!spot" into a label selector. */
export function parseSelector(text: string): LabelSelector {
  const matchLabels: Record<string, string> = {};
  const matchExpressions: NonNullable<LabelSelector['matchExpressions']> = [];
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const notEqual = /^([^=!]+)!=(.*)$/.exec(part);
    const equal = /^([^=!]+)==?(.*)$/.exec(part);
    const absent = /^!([^=!]+)$/.exec(part);
    if (notEqual) matchExpressions.push({ key: notEqual[1]!, operator: 'NotIn', values: [notEqual[2]!] });
    else if (equal) matchLabels[equal[1]!] = equal[2]!;
    else if (absent) matchExpressions.push({ key: absent[1]!, operator: 'DoesNotExist' });
    else if (/^[^=!]+$/.test(part)) matchExpressions.push({ key: part, operator: 'Exists' });
    else throw new UsageError(`--selector: cannot read "${part}"; use key=value, key!=value, key or !key, separated by commas`);
  }
  return {
    ...(Object.keys(matchLabels).length ? { matchLabels } : {}),
    ...(matchExpressions.length ? { matchExpressions } : {}),
  };
}

/** The KernelInvestigation the flags describe, checked against the API schema. */
export function buildInvestigation(request: ClusterInvestigationRequest): KernelInvestigation {
  if (!request.nodes?.length && request.selector === undefined) throw new UsageError('choose nodes with --nodes a,b or --selector key=value');
  const compareBy =
    request.compareBy === undefined
      ? undefined
      : request.compareBy === 'kernel'
        ? { kernelVersion: true }
        : request.compareBy.startsWith('label=')
          ? { nodeLabel: request.compareBy.slice(6) }
          : undefined;
  if (request.compareBy !== undefined && !compareBy) throw new UsageError('--compare-by: use "kernel" or "label=<node label key>"');
  const spec = {
    ...(request.description ? { description: request.description } : {}),
    nodes: {
      ...(request.nodes?.length ? { names: request.nodes } : {}),
      ...(request.selector !== undefined ? { selector: parseSelector(request.selector) } : {}),
      ...(request.maxNodes !== undefined ? { maxNodes: request.maxNodes } : {}),
    },
    captures: request.captures,
    durationSeconds: request.durationSeconds,
    ...(compareBy ? { compareBy } : {}),
    ...(request.workload ? { workload: request.workload } : {}),
    ...(request.baseline ? { baseline: request.baseline } : {}),
  };
  const checked = investigationSpec.safeParse(spec);
  if (!checked.success) throw new UsageError(checked.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; '));
  return {
    apiVersion,
    kind: 'KernelInvestigation',
    metadata: request.name ? { name: request.name } : { generateName: 'investigation-' },
    spec: spec as KernelInvestigation['spec'],
  };
}

export function toYaml(investigation: KernelInvestigation): string {
  return stringify(investigation, { lineWidth: 0 });
}

export async function createInvestigation(client: KubeClient, investigation: KernelInvestigation): Promise<KernelInvestigation> {
  try {
    return await client.create<KernelInvestigation>(ksleuth('KernelInvestigation'), investigation);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 422 || error.status === 409)) throw new Error(error.serverMessage);
    throw error;
  }
}

export interface WaitOptions {
  timeoutMs: number;
  /** How to print the result (tables by default). */
  format?: OutputFormat;
  /** Exit with exitCodes.findings when a finding is at least this severe. */
  failOn?: Severity;
}

/** Waits until the investigation completes or fails, showing progress on a terminal; prints the result. */
export async function waitAndShow(client: KubeClient, name: string, options: WaitOptions): Promise<number> {
  const timeoutMs = options.timeoutMs;
  const deadline = Date.now() + timeoutMs;
  let investigation = await getInvestigation(client, name);
  while (investigation.status?.phase !== 'Completed' && investigation.status?.phase !== 'Failed') {
    if (Date.now() > deadline) {
      statusLine.clear();
      console.error(`gave up waiting after ${Math.round(timeoutMs / 1000)}s; "ksleuth get ${name}" shows it later`);
      return exitCodes.failed;
    }
    const complete = investigation.status?.conditions?.find((c) => c.type === 'Complete');
    statusLine.show(`${investigation.status?.phase ?? 'Pending'} ${investigation.status?.progress ?? ''} ${complete?.message ?? ''}`);
    await sleep(2000);
    investigation = await getInvestigation(client, name);
  }
  statusLine.clear();
  const format = options.format ?? 'table';
  if (isMachineFormat(format)) printObjects(format, { ...investigation, apiVersion, kind: 'KernelInvestigation' });
  else console.log(renderInvestigation(investigation, await capturesOf(client, name), { wide: format === 'wide' }));
  if (investigation.status.phase !== 'Completed') return exitCodes.failed;
  return reaches(investigation.status.highestSeverity, options.failOn) ? exitCodes.findings : exitCodes.ok;
}
