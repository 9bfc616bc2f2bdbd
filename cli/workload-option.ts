import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { investigationWorkload, type InvestigationWorkload, workloadKindIds, workloadKinds } from '../api/v1alpha1/workloads.js';
import { UsageError } from './command.js';

export const workloadUsage = `  --workload W       run a workload on each node for the capture window: a built-in reproducer
                     (${workloadKindIds.join(', ')}), or @FILE: a Pod manifest (kubectl run NAME
                     --image=IMG --dry-run=client -o yaml) or a spec.workload in YAML`;

/** A Pod manifest as spec.workload.pod: its labels, annotations and spec; what the operator owns left out. */
function podAsWorkload(pod: {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}): InvestigationWorkload {
  const { nodeName: _n, restartPolicy: _r, activeDeadlineSeconds: _a, ...spec } = pod.spec ?? {};
  const metadata = {
    ...(pod.metadata?.labels ? { labels: pod.metadata.labels } : {}),
    ...(pod.metadata?.annotations ? { annotations: pod.metadata.annotations } : {}),
  };
  return { pod: { template: { ...(Object.keys(metadata).length ? { metadata } : {}), spec: spec as never } } };
}

/** The --workload option as spec.workload, checked by the API's schema; throws a UsageError naming what is wrong. */
export function workloadFromOption(text: string | undefined): InvestigationWorkload | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  if (text.startsWith('@')) {
    let content: string;
    try {
      content = readFileSync(text.slice(1), 'utf8');
    } catch (error) {
      throw new UsageError(`--workload ${text}: ${(error as Error).message}`);
    }
    const doc = parse(content) as Record<string, unknown> | null;
    value = doc?.kind === 'Pod' ? podAsWorkload(doc as never) : doc;
  } else {
    const kind = workloadKindIds.find((k) => k === text);
    if (!kind) throw new UsageError(`--workload ${text}: use one of ${workloadKindIds.join(', ')}, or @FILE with a Pod manifest or a spec.workload`);
    value = { [workloadKinds[kind].field]: {} };
  }
  const checked = investigationWorkload.safeParse(value);
  if (!checked.success) {
    throw new UsageError(
      `--workload ${text}: ${checked.error.issues.map((i) => `spec.workload${i.path.length ? `.${i.path.join('.')}` : ''}: ${i.message}`).join('; ')}`,
    );
  }
  return value as InvestigationWorkload;
}
