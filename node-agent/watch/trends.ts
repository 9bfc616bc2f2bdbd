import type { Finding, Severity } from '../../api/v1alpha1/finding.js';
import { formatDuration } from '../../lib/duration.js';
import { formatBytes } from '../../lib/findings.js';
import { riseAndFall } from '../patterns/steady-growth.js';
import type { LevelTrendConfig, RiseTrendConfig, TrendConfig } from './config.js';
import type { History, Point } from './history.js';

export interface TrendInputs {
  history: History;
  nowMs: number;
  /** MemTotal, for trends that judge growth against the node's memory. */
  memTotalBytes?: number;
  /** Extra evidence lines about the series that showed a trend (for example which namespaces hold sockets). */
  context?: (series: string[]) => string[];
}

/** How one series fared. */
interface SeriesVerdict {
  series: string;
  /** What the * of the trend's series matched. */
  name: string;
  critical: boolean;
  /** Orders series when several show the trend: the largest change first. */
  weight: number;
  title: string;
  lines: string[];
}

/** "slab.*.bytes" as a regular expression whose group is what * matched. */
export function seriesPattern(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .split('.')
      .map((part) => (part === '*' ? '([^.]+)' : part.replace(/[-\\^$+?()[\]{}|]/g, '\\$&')))
      .join('\\.')}$`,
  );
}

/** A value in the trend's unit, for titles and evidence. */
export function formatValue(unit: TrendConfig['unit'], value: number): string {
  switch (unit) {
    case 'bytes':
      return formatBytes(Math.round(value));
    case 'count':
      return String(Math.round(value));
    case 'ratio':
      return `${(value * 100).toFixed(value < 0.1 ? 2 : 1)}%`;
    case 'perSecond':
      return `${value < 1 ? value.toFixed(3) : value.toFixed(1)}/s`;
    case 'index':
      return value.toFixed(3);
  }
}

function mean(points: Point[]): number {
  return points.reduce((sum, p) => sum + p.value, 0) / points.length;
}

function subject(trend: TrendConfig, name: string): string {
  return trend.subject.replaceAll('{name}', name);
}

function rise(trend: RiseTrendConfig, series: string, name: string, inputs: TrendInputs): SeriesVerdict | undefined {
  const { stepSeconds, points } = inputs.history.range(series, inputs.nowMs - trend.windowSeconds * 1000, inputs.nowMs);
  if (points.length < trend.minPoints) return undefined;
  const first = points[0]!;
  const last = points.at(-1)!;
  const spanSeconds = (last.atMs - first.atMs) / 1000;
  // A window only partly filled (the agent just started) cannot show a steady trend over it.
  if (spanSeconds < trend.windowSeconds / 2) return undefined;
  const increase = last.value - first.value;
  const { intervals, rose, fell } = riseAndFall(points.map((p) => p.value));
  const perDay = (increase / spanSeconds) * 86_400;
  const memory = inputs.memTotalBytes;
  const shareOfMemory = memory ? perDay / memory : undefined;
  const steady = rose >= trend.minRiseShare * intervals && fell <= trend.maxFallShare * intervals;
  const material =
    increase >= trend.minIncrease &&
    (trend.minLevel === undefined || last.value >= trend.minLevel) &&
    (trend.minDailyShareOfMemory === undefined || shareOfMemory === undefined || shareOfMemory >= trend.minDailyShareOfMemory);
  if (!steady || !material) return undefined;
  const critical =
    (trend.criticalLevel !== undefined && last.value >= trend.criticalLevel) ||
    (trend.criticalIncrease !== undefined && increase >= trend.criticalIncrease) ||
    (trend.criticalDailyShareOfMemory !== undefined && shareOfMemory !== undefined && shareOfMemory >= trend.criticalDailyShareOfMemory);
  const fmt = (v: number): string => formatValue(trend.unit, v);
  const perHour = (increase / spanSeconds) * 3600;
  return {
    series,
    name,
    critical,
    weight: memory && trend.unit === 'bytes' ? increase / memory : increase,
    title: `${subject(trend, name)} grew steadily by ${fmt(increase)} in ${formatDuration(spanSeconds)}`,
    lines: [
      `${series}: ${fmt(first.value)} -> ${fmt(last.value)} over ${formatDuration(spanSeconds)} (+${fmt(increase)}, ${trend.unit === 'bytes' ? formatBytes(Math.round(perHour)) : perHour.toPrecision(3)} per hour` +
        (shareOfMemory !== undefined && trend.unit === 'bytes' ? `, ${(shareOfMemory * 100).toFixed(1)}% of memory per day at this pace` : '') +
        `); rose in ${rose} of ${intervals} steps of ${formatDuration(stepSeconds)}, fell in ${fell}`,
    ],
  };
}

function level(trend: LevelTrendConfig, series: string, name: string, inputs: TrendInputs): SeriesVerdict | undefined {
  const windowStart = inputs.nowMs - trend.windowSeconds * 1000;
  const from = windowStart - (trend.baselineSeconds ?? 0) * 1000;
  const { stepSeconds, points } = inputs.history.range(series, from, inputs.nowMs);
  const recent = points.filter((p) => p.atMs >= windowStart);
  if (recent.length < trend.minPoints) return undefined;
  const baseline = trend.baselineSeconds !== undefined ? points.filter((p) => p.atMs < windowStart) : undefined;
  if (baseline && baseline.length < trend.minPoints) return undefined;
  const recentMean = mean(recent);
  const baselineMean = baseline ? mean(baseline) : undefined;
  const holds =
    recentMean >= trend.minLevel &&
    (trend.maxBaseline === undefined || (baselineMean !== undefined && baselineMean <= trend.maxBaseline)) &&
    (trend.minIncrease === undefined || (baselineMean !== undefined && recentMean - baselineMean >= trend.minIncrease));
  if (!holds) return undefined;
  const fmt = (v: number): string => formatValue(trend.unit, v);
  const peak = Math.max(...recent.map((p) => p.value));
  return {
    series,
    name,
    critical: trend.criticalLevel !== undefined && recentMean >= trend.criticalLevel,
    weight: recentMean,
    title:
      `${subject(trend, name)} averaged ${fmt(recentMean)} over the last ${formatDuration(trend.windowSeconds)}` +
      (baselineMean !== undefined ? `, up from ${fmt(baselineMean)} in the ${formatDuration(trend.baselineSeconds!)} before` : ''),
    lines: [
      `${series}: mean ${fmt(recentMean)}, peak ${fmt(peak)} over ${recent.length} points of ${formatDuration(stepSeconds)}` +
        (baseline && baselineMean !== undefined ? `; before that ${fmt(baselineMean)} over ${baseline.length} points` : ''),
      `thresholds: mean at least ${fmt(trend.minLevel)}` +
        (trend.maxBaseline !== undefined ? `, baseline at most ${fmt(trend.maxBaseline)}` : '') +
        (trend.minIncrease !== undefined ? `, at least ${fmt(trend.minIncrease)} above the baseline` : '') +
        (trend.criticalLevel !== undefined ? `; critical from ${fmt(trend.criticalLevel)}` : ''),
    ],
  };
}

/**
 * Evaluates one trend over every history series its `series` matches. Several series that show
 * it (slab caches, zones) make one finding, the largest change first; none makes none.
 */
export function evaluateTrend(trend: TrendConfig, inputs: TrendInputs): Finding | undefined {
  const pattern = seriesPattern(trend.series);
  const verdicts: SeriesVerdict[] = [];
  for (const series of inputs.history.seriesNames()) {
    const match = pattern.exec(series);
    if (!match) continue;
    const name = match[1] ?? series;
    const verdict = trend.detector === 'rise' ? rise(trend, series, name, inputs) : level(trend, series, name, inputs);
    if (verdict) verdicts.push(verdict);
  }
  if (verdicts.length === 0) return undefined;
  verdicts.sort((a, b) => b.weight - a.weight || a.series.localeCompare(b.series));
  const top = verdicts[0]!;
  const severity: Severity = verdicts.some((v) => v.critical) ? 'critical' : trend.severity;
  const context = inputs.context?.(verdicts.map((v) => v.series)) ?? [];
  return {
    pattern: trend.pattern,
    severity,
    title: verdicts.length === 1 ? top.title : `${top.title} (and ${verdicts.length - 1} more)`,
    evidence: [...verdicts.flatMap((v) => v.lines), ...context].map((line) => (line.length > 500 ? `${line.slice(0, 497)}...` : line)),
    recommendation: trend.recommendation,
  };
}
