import type { BaselineStatus } from '../api/v1alpha1/baseline.js';
import type { AggregatedFinding } from '../api/v1alpha1/finding.js';
import { figureIds, type GroupFigure } from '../api/v1alpha1/figures.js';
import { nodeFigures } from '../lib/figures.js';
import { podOwnersOf } from '../lib/findings.js';
import type { NodeReport } from '../node-agent/engine/run.js';
import { compareWithBaseline, windowBaseline } from '../operator/investigation/baseline.js';
import { roundFigure } from '../operator/investigation/differences.js';

/*
 * `investigate --local --baseline`: this machine is one node, its baseline window the same captures
 * a moment earlier without the workload. The figures and the comparison are the cluster's
 * (docs/baselines.md), over one node a side.
 */

export const localBaselineSource = 'baseline window: the same captures on this machine without the workload, just before it';

/** This machine's figures (lib/figures.ts) as a one-node group: the median, minimum and maximum are its value. */
export function localFigures(report: NodeReport): GroupFigure[] {
  const figures = nodeFigures(report.captures);
  return figureIds.flatMap((name) => {
    const value = figures[name];
    if (value === undefined) return [];
    const rounded = roundFigure(value);
    return [{ name, nodes: 1, median: rounded, min: rounded, max: rounded }];
  });
}

function asAggregated(report: NodeReport): AggregatedFinding[] {
  return report.findings.map(({ pods, ...f }) => ({
    ...f,
    nodes: { count: 1, examples: [report.node.hostname] },
    ...(pods && pods.length > 0 ? { pods: podOwnersOf(pods) } : {}),
  }));
}

/** What the baseline window showed and what changed in the workload window, as status.baseline says it. */
export function localBaseline(baseline: NodeReport, workload: NodeReport): BaselineStatus {
  const window = windowBaseline(
    { source: localBaselineSource, startTime: baseline.startTime },
    { reported: 1, findings: asAggregated(baseline), figures: localFigures(baseline) },
    baseline.completionTime,
    1,
  );
  return compareWithBaseline(window, asAggregated(workload), localFigures(workload));
}
