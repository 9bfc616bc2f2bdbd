import { z } from 'zod';
import { captureEntry } from './capture-entry.js';
import { conditions, labelSelector } from './common.js';
import { findingPatterns, severities } from './finding.js';
import { maxInvestigationDurationSeconds } from './investigation.js';

export const triggerSpec = z
  .object({
    findings: z
      .object({
        patterns: z
          .array(z.enum(findingPatterns))
          .min(1)
          .max(32)
          .describe('The finding patterns that start the investigation (for example slab-growth-trend).'),
        minSeverity: z.enum(severities).default('warning').describe('Only findings at least this severe: info, warning or critical.'),
      })
      .describe('Which findings of the always-on watch, listed on a KernelNode, start an investigation on that node.'),
    nodeSelector: labelSelector.optional().describe('Only on Nodes with these labels; every node when left out.'),
    investigation: z
      .object({
        description: z.string().max(512).optional().describe('Said first in the investigation’s description, before what started it.'),
        captures: z.array(captureEntry).min(1).max(16).describe('What to capture on the node, all at the same time.'),
        durationSeconds: z.int().min(1).max(maxInvestigationDurationSeconds).default(300).describe('How long the captures run.'),
        ttlSecondsAfterFinished: z
          .int()
          .min(0)
          .max(30 * 24 * 3600)
          .default(7 * 24 * 3600)
          .describe(
            'Delete the investigation this long after it finished; never before the cooldown (and an hour) have passed, since they are counted from it.',
          ),
      })
      .describe('The investigation to start on the affected node.'),
    cooldownSeconds: z
      .int()
      .min(10)
      .max(30 * 24 * 3600)
      .default(3600)
      .describe('After starting an investigation on a node, start no other from this trigger on that node for this long.'),
    maxPerHour: z.int().min(1).max(1000).default(10).describe('Start at most this many investigations from this trigger per hour across the cluster.'),
    suspend: z.boolean().default(false).describe('Start nothing while true.'),
  })
  .describe('When the watch reports one of these findings on a node, start this investigation on that node.');
export type KernelTriggerSpec = z.infer<typeof triggerSpec>;

export const triggerRun = z.object({
  node: z.string().max(253).describe('The node it ran on.'),
  investigation: z.string().max(253).describe('The KernelInvestigation it started.'),
  finding: z.string().max(128).describe('The id of the finding that started it.'),
  severity: z.enum(severities).describe('The finding’s severity.'),
  time: z.iso.datetime().describe('When it was started.'),
});

export const triggerStatus = z
  .object({
    observedGeneration: z.int().min(0).optional().describe('The generation this status reflects.'),
    lastTriggerTime: z.iso.datetime().optional().describe('When this trigger last started an investigation.'),
    startedLastHour: z.int().min(0).optional().describe('Investigations it started in the last hour.'),
    recent: z.array(triggerRun).max(20).optional().describe('The investigations it started last, newest first.'),
    skippedCooldown: z.int().min(0).optional().describe('Findings not acted on because the node was in its cooldown (since the operator started).'),
    skippedCap: z.int().min(0).optional().describe('Findings not acted on because a cap per hour was reached (since the operator started).'),
    conditions,
  })
  .describe('What the trigger started, written by the operator.');
export type KernelTriggerStatus = z.infer<typeof triggerStatus>;

/** Labels and annotation that say what started an investigation. */
export const triggerLabel = 'ksleuth.io/trigger';
export const triggerNodeLabel = 'ksleuth.io/trigger-node';
export const triggerFindingAnnotation = 'ksleuth.io/triggered-by';
