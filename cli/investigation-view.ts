import type { BaselineStatus } from '../api/v1alpha1/baseline.js';
import type { GroupFigure } from '../api/v1alpha1/figures.js';
import type { KernelCapture, KernelInvestigation } from '../api/v1alpha1/resources.js';
import { formatDuration } from '../lib/duration.js';
import { renderFindings } from './report.js';
import { table } from './table.js';

function ago(time: string | undefined, now: Date): string {
  return time ? `${formatDuration((now.getTime() - Date.parse(time)) / 1000)} ago` : '-';
}

/** The FIGURES section: each figure's median, range and node count. */
export function renderFigures(figures: readonly GroupFigure[]): string[] {
  return [
    'FIGURES',
    table(
      ['figure', 'median', 'range', 'nodes'],
      figures.map((f) => [f.name, f.median, `${f.min}–${f.max}`, f.nodes]),
    ),
  ];
}

/** The AGAINST THE BASELINE section: where the baseline comes from and what changed under the workload. */
export function renderBaseline(baseline: BaselineStatus): string[] {
  const lines = ['AGAINST THE BASELINE', `  ${baseline.source}`];
  if (baseline.summary) lines.push(`  ${baseline.summary}`);
  for (const c of baseline.changed ?? []) lines.push(`  ${c.statement}`);
  for (const f of baseline.appeared ?? []) lines.push(`  new: ${f.pattern} (${f.severity}) on ${f.nodes} node${f.nodes === 1 ? '' : 's'}: ${f.title}`);
  for (const f of baseline.gone ?? [])
    lines.push(`  gone: ${f.pattern} (${f.severity}), seen on ${f.nodes} node${f.nodes === 1 ? '' : 's'} in the baseline: ${f.title}`);
  return lines;
}

/** An investigation and its per-node captures, for people. */
export function renderInvestigation(investigation: KernelInvestigation, captures: KernelCapture[], options: { wide?: boolean; now?: Date } = {}): string {
  const now = options.now ?? new Date();
  const status = investigation.status ?? {};
  const complete = status.conditions?.find((c) => c.type === 'Complete');
  const counts = status.captures;
  const took =
    status.startTime && status.completionTime ? `, took ${formatDuration((Date.parse(status.completionTime) - Date.parse(status.startTime)) / 1000)}` : '';
  const lines = [
    `Name:      ${investigation.metadata.name}`,
    ...(investigation.spec.description ? [`Symptom:   ${investigation.spec.description}`] : []),
    `Phase:     ${status.phase ?? 'Pending'}${complete ? ` (${complete.message})` : ''}`,
    `Nodes:     ${status.progress ?? '-'}${counts ? `  succeeded ${counts.succeeded}, failed ${counts.failed}, unsupported ${counts.unsupported}, timed out ${counts.timedOut}, running ${counts.running}, pending ${counts.pending}` : ''}`,
    `Captures:  ${investigation.spec.captures.map((c) => c.name ?? Object.keys(c).find((k) => k !== 'name')).join(', ')} for ${investigation.spec.durationSeconds}s`,
    `Started:   ${ago(status.startTime, now)}${took}`,
    '',
    'FINDINGS',
    renderFindings(status.findings ?? []),
  ];
  if (status.comparison) {
    lines.push('', `COMPARISON BY ${status.comparison.by.toUpperCase()}`);
    lines.push(
      table(
        ['value', 'nodes', 'reported', 'patterns'],
        status.comparison.groups.map((g) => [g.value, g.nodes, g.reported, g.patterns.join(', ') || '-']),
      ),
    );
    const figures = status.comparison.groups.flatMap((g) => (g.figures ?? []).map((f) => [g.value, f.name, f.median, `${f.min}–${f.max}`, f.nodes]));
    if (figures.length > 0) {
      lines.push('', 'FIGURES PER GROUP');
      lines.push(table(['value', 'figure', 'median', 'range', 'nodes'], figures));
    }
    if (status.comparison.differences?.length) {
      lines.push('', 'DIFFERENCES BEYOND THE SPREAD INSIDE THE GROUPS');
      for (const d of status.comparison.differences) lines.push(`  ${d.statement}`);
    }
    if (status.comparison.kernelRanges?.length) {
      lines.push('', 'KERNELS THAT SHOW EACH FINDING');
      lines.push(
        table(
          ['pattern', 'kernelVersions', 'evidence'],
          status.comparison.kernelRanges.map((r) => [r.pattern, r.range ?? '-', r.statement]),
        ),
      );
    }
  }
  if (status.figures?.length) lines.push('', ...renderFigures(status.figures));
  if (status.baseline) lines.push('', ...renderBaseline(status.baseline));
  if (captures.length > 0) {
    lines.push('', 'NODES');
    // A node's baseline window (spec.baseline.run) comes before its workload window.
    const sorted = [...captures].sort((a, b) => a.spec.nodeName.localeCompare(b.spec.nodeName) || Number(!a.spec.baseline) - Number(!b.spec.baseline));
    const wide = options.wide === true;
    const took = (c: KernelCapture): string =>
      c.status?.startTime && c.status.completionTime ? formatDuration((Date.parse(c.status.completionTime) - Date.parse(c.status.startTime)) / 1000) : '';
    lines.push(
      table(
        ['node', 'phase', 'findings', 'artifacts', ...(wide ? ['kernel', 'agent', 'took'] : []), 'message'],
        sorted.map((c) => [
          c.spec.baseline ? `${c.spec.nodeName} (baseline)` : c.spec.nodeName,
          c.status?.phase ?? 'Pending',
          c.status?.findingCount ?? 0,
          c.status?.artifacts?.length ?? 0,
          ...(wide ? [c.status?.kernelVersion ?? '', c.status?.agentVersion ?? '', took(c)] : []),
          c.status?.message ?? '',
        ]),
      ),
    );
    if (captures.some((c) => (c.status?.artifacts?.length ?? 0) > 0)) lines.push('', `Artifacts: ksleuth artifacts get ${investigation.metadata.name}`);
  }
  return lines.join('\n');
}
