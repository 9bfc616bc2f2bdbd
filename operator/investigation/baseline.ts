import type { BaselineFinding, BaselineStatus, FigureChange } from '../../api/v1alpha1/baseline.js';
import type { AggregatedFinding } from '../../api/v1alpha1/finding.js';
import { figureDefinitions, figureIds, type FigureId, type GroupFigure } from '../../api/v1alpha1/figures.js';
import type { KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { severityRank } from '../../lib/findings.js';
import { describeFigure, differenceRule } from './differences.js';

/*
 * Baselines (docs/baselines.md): what the captures showed without the workload, and what changed
 * with it. A figure moved when the two sides' ranges do not overlap (every node of one side gave
 * more than every node of the other; with one node a side, its value) and the medians differ by at
 * least the figure's minDifference and by the comparison's ratio (docs/comparison.md), so noise
 * inside either side never counts as a change.
 */

/** Whether the investigation runs a baseline window of its own before the workload window. */
export function runsBaselineWindow(investigation: KernelInvestigation): boolean {
  return investigation.spec.baseline?.run === true;
}

/** Findings merged by pattern (a pattern seen by two captures is one entry): the worst severity, the most nodes. */
export function baselineFindings(findings: readonly Pick<AggregatedFinding, 'pattern' | 'severity' | 'title' | 'nodes'>[]): BaselineFinding[] {
  const byPattern = new Map<string, BaselineFinding>();
  for (const f of findings) {
    const seen = byPattern.get(f.pattern);
    if (!seen) byPattern.set(f.pattern, { pattern: f.pattern, severity: f.severity, title: f.title, nodes: f.nodes.count });
    else {
      if (severityRank[f.severity] > severityRank[seen.severity]) Object.assign(seen, { severity: f.severity, title: f.title });
      seen.nodes = Math.max(seen.nodes, f.nodes.count);
    }
  }
  return [...byPattern.values()];
}

export function windowSource(nodes: number): string {
  return `baseline window: the same captures on the same ${nodes} node${nodes === 1 ? '' : 's'} without the workload, just before it`;
}

/** The baseline window's findings and figures, once it ended. */
export function windowBaseline(
  started: BaselineStatus | undefined,
  window: { reported: number; findings: AggregatedFinding[]; figures: GroupFigure[] },
  completionTime: string,
  targetNodes: number,
): BaselineStatus {
  return {
    source: started?.source ?? windowSource(targetNodes),
    ...(started?.startTime ? { startTime: started.startTime } : {}),
    completionTime,
    nodes: window.reported,
    findings: baselineFindings(window.findings).slice(0, 64),
    figures: window.figures,
  };
}

export type EarlierBaseline =
  | { state: 'ready'; baseline: BaselineStatus }
  | { state: 'waiting'; message: string }
  | { state: 'invalid'; reason: string; message: string };

/** The earlier investigation named by spec.baseline.investigation, as a baseline, or why not (yet). */
export function earlierBaseline(investigation: KernelInvestigation, earlier: KernelInvestigation | undefined): EarlierBaseline {
  const name = investigation.spec.baseline!.investigation!;
  const field = 'spec.baseline.investigation';
  if (name === investigation.metadata.name) {
    return { state: 'invalid', reason: 'InvalidBaseline', message: `${field}: names this investigation itself; name an earlier, Completed one` };
  }
  if (!earlier) {
    return {
      state: 'invalid',
      reason: 'BaselineNotFound',
      message: `${field}: there is no KernelInvestigation named ${name} (kubectl get kinv lists them); name a Completed one, or use baseline.run: true`,
    };
  }
  const status = earlier.status ?? {};
  if (status.phase === 'Failed') {
    const why = status.conditions?.find((c) => c.type === 'Failed')?.message;
    return {
      state: 'invalid',
      reason: 'BaselineFailed',
      message: `${field}: ${name} failed${why ? ` (${why})` : ''}; name a Completed investigation, or use baseline.run: true`,
    };
  }
  if (status.phase !== 'Completed') {
    return { state: 'waiting', message: `waiting for ${name} (${status.phase ?? 'Pending'}) to complete: it is the baseline to compare with` };
  }
  const counts = status.captures;
  const nodes = counts ? counts.succeeded + counts.failed + counts.unsupported : 0;
  const figures = status.figures ?? [];
  return {
    state: 'ready',
    baseline: {
      source:
        `investigation ${name}, completed ${status.completionTime ?? 'earlier'} on ${nodes} node${nodes === 1 ? '' : 's'}` +
        (figures.length === 0 ? '; it gave no figures to compare' : ''),
      investigation: name,
      ...(status.startTime ? { startTime: status.startTime } : {}),
      ...(status.completionTime ? { completionTime: status.completionTime } : {}),
      nodes,
      findings: baselineFindings(status.findings ?? []).slice(0, 64),
      figures,
    },
  };
}

/** The figures that moved from the baseline to this investigation, in definition order. */
export function figureChanges(baseline: readonly GroupFigure[], current: readonly GroupFigure[]): FigureChange[] {
  const changes: FigureChange[] = [];
  for (const id of figureIds) {
    const before = baseline.find((f) => f.name === id);
    const after = current.find((f) => f.name === id);
    if (!before || !after) continue;
    const { unit, minDifference } = figureDefinitions[id as FigureId];
    const [high, low] = after.median >= before.median ? [after, before] : [before, after];
    if (high.min <= low.max) continue;
    if (high.median - low.median < minDifference || high.median < differenceRule.minRatio * low.median) continue;
    changes.push({
      name: id,
      baseline: before.median,
      workload: after.median,
      // The medians are already rounded for people: their difference only loses float noise.
      change: Math.round((after.median - before.median) * 1000) / 1000,
      statement: `${id} ${after.median > before.median ? 'rose' : 'fell'} from ${describeFigure(before, unit)} in the baseline to ${describeFigure(after, unit)}`,
    });
  }
  return changes;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The baseline with what changed: findings that appeared or went, figures that moved, and a summary for `kubectl get`. */
export function compareWithBaseline(baseline: BaselineStatus, findings: readonly AggregatedFinding[], figures: readonly GroupFigure[]): BaselineStatus {
  const before = baseline.findings ?? [];
  const after = baselineFindings(findings);
  const beforePatterns = new Set(before.map((f) => f.pattern));
  const afterPatterns = new Set(after.map((f) => f.pattern));
  const appeared = after.filter((f) => !beforePatterns.has(f.pattern));
  const gone = before.filter((f) => !afterPatterns.has(f.pattern));
  const changed = figureChanges(baseline.figures ?? [], figures);
  return {
    ...baseline,
    appeared,
    gone,
    changed,
    summary: `${plural(changed.length, 'figure')} moved, ${plural(appeared.length, 'new finding')}, ${gone.length} gone`,
  };
}
