import { z } from 'zod';
import { withCel } from '../cel.js';
import { baseline, baselineRunNeedsWorkload, baselineStatus } from './baseline.js';
import { conditions, labelKey, labelSelector, objectName } from './common.js';
import { captureEntry } from './capture-entry.js';
import { figureDifference, groupFigure } from './figures.js';
import { aggregatedFinding } from './finding.js';
import { workloadPodsStatus } from './workload-pod.js';
import { investigationWorkload } from './workloads.js';

export const maxInvestigationDurationSeconds = 3600;

export const nodeTargets = withCel(
  z
    .object({
      names: z.array(objectName).max(1000).optional().describe('Nodes to investigate by name.'),
      selector: labelSelector.optional(),
      maxNodes: z
        .int()
        .min(1)
        .max(5000)
        .default(10)
        .describe('The most nodes to investigate. With compareBy they are picked in turn from each group, else in name order.'),
    })
    .meta({ description: 'Which nodes to investigate, by names and/or a label selector. Only Ready nodes whose agent has registered take part.' }),
  [
    {
      cel: 'has(self.names) || has(self.selector)',
      message: 'set names, selector or both to choose the nodes to investigate',
      holds: (nodes) => nodes.names !== undefined || nodes.selector !== undefined,
    },
  ],
);

export const compareBy = withCel(
  z
    .object({
      kernelVersion: z.boolean().optional().describe('Group nodes by their kernel version.'),
      nodeLabel: labelKey.optional().describe('Group nodes by the value of this node label.'),
    })
    .meta({ description: 'Group nodes and show which findings and figures differ between groups; nodes are picked evenly across groups.' }),
  [
    {
      cel: '(has(self.kernelVersion) && self.kernelVersion) != has(self.nodeLabel)',
      message: 'set exactly one of kernelVersion: true or nodeLabel',
      holds: (c) => (c.kernelVersion === true) !== (c.nodeLabel !== undefined),
    },
  ],
);

export const investigationSpec = withCel(
  z.object({
    description: z.string().max(1024).optional().describe('The symptom being investigated, for the people reading the result.'),
    nodes: nodeTargets,
    captures: z.array(captureEntry).min(1).max(16).describe('What to capture on every node, all at the same time.'),
    durationSeconds: z
      .int()
      .min(1)
      .max(maxInvestigationDurationSeconds)
      .default(30)
      .describe(`How long each capture runs (at most ${maxInvestigationDurationSeconds}).`),
    deadlineSeconds: z
      .int()
      .min(30)
      .max(maxInvestigationDurationSeconds + 3600)
      .optional()
      .describe(
        'After this long from the start, nodes that have not reported are marked timed out; agents stop captures still running then and do not start one whose window cannot end by then. Leave room after durationSeconds for processing (perf script, parsing). Defaults to durationSeconds + 120.',
      ),
    compareBy: compareBy.optional(),
    workload: investigationWorkload.optional(),
    baseline: baseline.optional(),
    ttlSecondsAfterFinished: z
      .int()
      .min(0)
      .max(30 * 24 * 3600)
      .default(7 * 24 * 3600)
      .describe('Delete the investigation (and its captures) this long after it finishes.'),
  }),
  [
    {
      cel: '!has(self.deadlineSeconds) || self.deadlineSeconds > self.durationSeconds',
      message: 'deadlineSeconds must be longer than durationSeconds',
      fieldPath: '.deadlineSeconds',
      holds: (spec) => spec.deadlineSeconds === undefined || spec.deadlineSeconds > spec.durationSeconds,
    },
    {
      cel: 'self.captures.all(c, !has(c.name) || self.captures.exists_one(d, has(d.name) && d.name == c.name))',
      message: 'capture names must be unique',
      fieldPath: '.captures',
      holds: (spec) => {
        const names = spec.captures.flatMap((c) => (c.name === undefined ? [] : [c.name]));
        return new Set(names).size === names.length;
      },
    },
    baselineRunNeedsWorkload,
  ],
).describe('What to investigate, where and for how long.');
export type KernelInvestigationSpec = z.infer<typeof investigationSpec>;

export const investigationPhases = ['Pending', 'Running', 'Completed', 'Failed'] as const;
export type InvestigationPhase = (typeof investigationPhases)[number];

export const captureCounts = z
  .object({
    pending: z.int().min(0).describe('Captures not started yet.'),
    running: z.int().min(0).describe('Captures in progress.'),
    succeeded: z.int().min(0).describe('Captures that finished with results.'),
    failed: z.int().min(0).describe('Captures that ended with an error.'),
    unsupported: z.int().min(0).describe('Captures the node cannot run.'),
    timedOut: z.int().min(0).describe('Nodes that did not report before the deadline.'),
  })
  .describe('KernelCaptures by state.');
export type CaptureCounts = z.infer<typeof captureCounts>;

export const comparisonGroup = z.object({
  value: z.string().max(256).describe('The kernel version or label value of this group.'),
  nodes: z.int().min(0).describe('How many nodes are in this group.'),
  reported: z.int().min(0).describe('How many of them reported results.'),
  patterns: z.array(z.string().max(64)).max(64).describe('The finding patterns seen in this group.'),
  figures: z.array(groupFigure).max(16).optional().describe('Figures over the nodes of this group that gave them (docs/comparison.md).'),
});

export const kernelRangeEvidence = z.object({
  pattern: z.string().max(64).describe('The finding pattern.'),
  statement: z
    .string()
    .max(2048)
    .describe(
      'What the comparison shows, per distribution, as "Debian: seen on 6.1.0-18-amd64 and later, not on 6.1.0-13-amd64 and earlier", or why it cannot say.',
    ),
  range: z
    .string()
    .max(256)
    .optional()
    .describe('The kernels that showed it, as a KernelMitigation kernelVersions range; absent when seen and not seen alternate within a distribution.'),
});

export const comparison = z
  .object({
    by: z.string().max(317).describe('KernelVersion or the node label the nodes are grouped by.'),
    groups: z.array(comparisonGroup).max(64).describe('One entry per value, most nodes first.'),
    otherGroups: z.int().min(0).optional().describe('Groups left out beyond the first 64.'),
    kernelRanges: z
      .array(kernelRangeEvidence)
      .max(64)
      .optional()
      .describe('With kernelVersion grouping: per finding pattern, which kernels showed it, ordered within each distribution.'),
    differences: z
      .array(figureDifference)
      .max(32)
      .optional()
      .describe('Figures where every node of one group gave more than every node of another, by a material amount (docs/comparison.md).'),
  })
  .describe('Which findings appear in which group of nodes.');

export const investigationStatus = z
  .object({
    observedGeneration: z.int().min(0).optional().describe('The generation this status reflects.'),
    phase: z.enum(investigationPhases).optional().describe('Pending, Running, Completed or Failed.'),
    startTime: z.iso.datetime().optional().describe('When the captures were created.'),
    completionTime: z.iso.datetime().optional().describe('When the last node reported or the deadline passed.'),
    targetNodes: z.int().min(0).optional().describe('How many nodes take part.'),
    progress: z.string().max(32).optional().describe('Reported nodes out of target nodes, as "3/5".'),
    captures: captureCounts.optional(),
    findingCount: z.int().min(0).optional().describe('Distinct findings across all nodes.'),
    highestSeverity: z.string().max(16).optional().describe('The most severe finding, or none.'),
    findings: z.array(aggregatedFinding).max(64).optional().describe('Merged across nodes, most severe first.'),
    comparison: comparison.optional(),
    workloadPods: workloadPodsStatus.optional(),
    figures: z.array(groupFigure).max(16).optional().describe('Figures over all nodes that gave them, the reproducer’s among them (docs/comparison.md).'),
    baseline: baselineStatus.optional(),
    conditions,
  })
  .describe('Progress and findings, written by the operator.');
export type KernelInvestigationStatus = z.infer<typeof investigationStatus>;
