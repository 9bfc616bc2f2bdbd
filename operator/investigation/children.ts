import { apiVersion } from '../../api/v1alpha1/common.js';
import { reproducerOf } from '../../api/v1alpha1/workloads.js';
import type { KernelCapture, KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { childName, labelValueFor } from '../../lib/names.js';

export const labels = {
  investigation: 'ksleuth.io/investigation',
  node: 'ksleuth.io/node',
};

/** The one KernelCapture name for an investigation on a node: deterministic, so re-running the fan-out never duplicates. */
export function captureName(investigation: string, node: string): string {
  return childName([investigation, node]);
}

/** The KernelCapture of the baseline window (spec.baseline.run) on a node. */
export function baselineCaptureName(investigation: string, node: string): string {
  return childName([investigation, node, 'baseline']);
}

/** When nodes that have not reported count as timed out: `startTime` is the start of the window (the baseline window has its own). */
export function deadlineOf(investigation: KernelInvestigation, startTime: Date): Date {
  const seconds = investigation.spec.deadlineSeconds ?? investigation.spec.durationSeconds + 120;
  return new Date(startTime.getTime() + seconds * 1000);
}

/**
 * The KernelCapture that runs `investigation` on `node`, owned by the investigation; for the
 * baseline window, the same captures without the workload.
 */
export function buildCapture(investigation: KernelInvestigation, node: string, deadline: Date, window: 'baseline' | 'main' = 'main'): KernelCapture {
  const name = investigation.metadata.name!;
  const reproducer = reproducerOf(investigation.spec.workload);
  const baseline = window === 'baseline';
  return {
    apiVersion,
    kind: 'KernelCapture',
    metadata: {
      name: baseline ? baselineCaptureName(name, node) : captureName(name, node),
      labels: { [labels.investigation]: labelValueFor(name), [labels.node]: labelValueFor(node), 'app.kubernetes.io/managed-by': 'ksleuth' },
      ownerReferences: [
        {
          apiVersion,
          kind: 'KernelInvestigation',
          name,
          uid: investigation.metadata.uid!,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      investigation: name,
      nodeName: node,
      captures: investigation.spec.captures,
      durationSeconds: investigation.spec.durationSeconds,
      // A Pod workload is the operator's to run (workload-pods/); the agent runs only built-in
      // reproducers, and none in the baseline window.
      ...(reproducer && !baseline ? { workload: reproducer } : {}),
      ...(baseline ? { baseline: true } : {}),
      deadline: deadline.toISOString(),
    },
  };
}
