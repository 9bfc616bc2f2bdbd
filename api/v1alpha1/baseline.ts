import { z } from 'zod';
import { withCel } from '../cel.js';
import { objectName } from './common.js';
import { findingPatterns, severities } from './finding.js';
import { groupFigure } from './figures.js';

/*
 * Baselines (spec.baseline): what the captures show without the workload, to compare with what
 * they show with it (docs/baselines.md). Either a baseline window the investigation runs first on
 * the same nodes, or an earlier Completed investigation.
 */

export const baseline = withCel(
  z
    .object({
      run: z
        .boolean()
        .optional()
        .describe('Run the same captures on the same nodes without spec.workload first (a baseline window as long as durationSeconds), then with it.'),
      investigation: objectName
        .optional()
        .describe('Compare with this earlier KernelInvestigation (its findings and figures); it must be Completed, one still running is waited for.'),
    })
    .meta({ description: 'What to compare the investigation with: set exactly one of run: true or investigation: NAME.' }),
  [
    {
      cel: '(has(self.run) && self.run) != has(self.investigation)',
      message: 'set exactly one of run: true (a baseline window without the workload) or investigation: NAME (an earlier investigation)',
      holds: (b) => (b.run === true) !== (b.investigation !== undefined),
    },
  ],
);
export type Baseline = z.infer<typeof baseline>;

export const baselineRunNeedsWorkload = {
  cel: '!has(self.baseline) || !has(self.baseline.run) || !self.baseline.run || has(self.workload)',
  message:
    'baseline.run needs spec.workload: the baseline window runs the captures without it; set spec.workload, or compare with an earlier investigation (baseline.investigation)',
  fieldPath: '.baseline',
  holds: (spec: { baseline?: Baseline; workload?: unknown }) => spec.baseline?.run !== true || spec.workload !== undefined,
};

export const baselineFinding = z.object({
  pattern: z.enum(findingPatterns).describe('The finding pattern.'),
  severity: z.enum(severities).describe('Its worst severity.'),
  title: z.string().max(256).describe('Its title (from the first node by name with that severity).'),
  nodes: z.int().min(0).describe('How many nodes reported it.'),
});
export type BaselineFinding = z.infer<typeof baselineFinding>;

export const figureChange = z.object({
  name: z.string().max(64).describe('The figure, for example tcp-segments-per-second.'),
  baseline: z.number().describe('Its median over the baseline’s nodes.'),
  workload: z.number().describe('Its median over this investigation’s nodes (with the workload).'),
  change: z.number().describe('workload minus baseline.'),
  statement: z.string().max(1024).describe('The change in words, with ranges and node counts.'),
});
export type FigureChange = z.infer<typeof figureChange>;

export const baselineStatus = z
  .object({
    source: z.string().max(512).describe('Where the baseline comes from: the baseline window, or the earlier investigation.'),
    investigation: objectName.optional().describe('The earlier investigation compared with (baseline.investigation).'),
    startTime: z.iso.datetime().optional().describe('When the baseline’s captures started.'),
    completionTime: z.iso.datetime().optional().describe('When the baseline ended; with run: true the workload window starts then.'),
    nodes: z.int().min(0).optional().describe('How many nodes reported in the baseline.'),
    findings: z.array(baselineFinding).max(64).optional().describe('The baseline’s findings.'),
    figures: z.array(groupFigure).max(16).optional().describe('The baseline’s figures over its nodes.'),
    appeared: z.array(baselineFinding).max(64).optional().describe('Findings with the workload that the baseline did not show.'),
    gone: z.array(baselineFinding).max(64).optional().describe('Findings of the baseline that did not show with the workload.'),
    changed: z
      .array(figureChange)
      .max(16)
      .optional()
      .describe('Figures that moved beyond the spread of either side, by a material amount (docs/baselines.md).'),
    summary: z.string().max(128).optional().describe('What changed, in a few words, once the investigation completes.'),
  })
  .describe('What changed under the workload, against the baseline (spec.baseline).');
export type BaselineStatus = z.infer<typeof baselineStatus>;
