import type { Finding, FindingPattern } from '../../../api/v1alpha1/finding.js';
import type { CaptureAnalysis, Summary } from '../../engine/capture.js';
import { evidence, severityRank } from '../../../lib/findings.js';
import { formatRecord, type KmsgRecord } from '../../engine/kmsg-record.js';
import { matchRules, type RuleMatch } from './match.js';
import type { ParsedKernelLog } from './parse.js';
import type { KernelLogRule } from './rules.js';

const maxTallyValues = 5;

function when(record: KmsgRecord, bootWallMs: number | undefined): string {
  if (record.usec < 0) return record.time ?? 'at an unknown time';
  const sinceBoot = `${(record.usec / 1e6).toFixed(6)}s after boot`;
  if (record.time) return `${sinceBoot} (${record.time})`;
  return bootWallMs === undefined ? sinceBoot : `${sinceBoot} (≈${new Date(bootWallMs + record.usec / 1000).toISOString()})`;
}

function exampleLine(example: RuleMatch['examples'][number]): string {
  return `${formatRecord(example.record)}${example.frame ? ` — in ${example.frame}` : ''}`;
}

function tallyLines(match: RuleMatch): string[] {
  return Object.entries(match.groups).map(([group, values]) => {
    const top = Object.entries(values)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, maxTallyValues);
    return `${match.rule.id} ${group}: ${top.map(([value, n]) => `${value} ×${n}`).join(', ')}`;
  });
}

function scopeOf(parsed: ParsedKernelLog): string {
  return parsed.scope ?? (parsed.sinceBoot ? 'since boot' : 'during the window');
}

function patternFinding(pattern: FindingPattern, matches: RuleMatch[], parsed: ParsedKernelLog): Finding {
  const ranked = [...matches].sort((a, b) => severityRank[b.rule.severity] - severityRank[a.rule.severity] || b.count - a.count);
  const top = ranked[0]!;
  const records = new Set(matches.flatMap((m) => m.seqs)).size;
  const scope = scopeOf(parsed);
  const lines: string[] = [];
  for (const match of ranked) {
    lines.push(
      `${match.rule.id}: ${match.count} record${match.count === 1 ? '' : 's'} ${scope}; first ${when(match.first, parsed.bootWallMs)}` +
        (match.count > 1 ? `, last ${when(match.last, parsed.bootWallMs)}` : ''),
    );
  }
  for (const match of ranked) lines.push(...tallyLines(match));
  for (const match of ranked) lines.push(...match.examples.map(exampleLine));
  return {
    pattern,
    severity: top.rule.severity,
    title: `${top.rule.title} (${records} record${records === 1 ? '' : 's'} ${scope})`,
    evidence: evidence(lines, 20),
    recommendation: top.rule.recommendation,
  };
}

/**
 * One finding per pattern that any rule matched, with counts, first/last times and example lines.
 * Only the kernel's own records count: lines that user space wrote into /dev/kmsg (any facility
 * but kern) can imitate kernel messages, so they are counted in the summary and otherwise ignored.
 */
export function analyzeKernelLog(parsed: ParsedKernelLog, rules: KernelLogRule[]): CaptureAnalysis {
  const matches = matchRules(
    parsed.records.filter((r) => r.facility === 0),
    rules,
  );
  const userSpaceMatches = matchRules(
    parsed.records.filter((r) => r.facility !== 0),
    rules,
  ).reduce((n, m) => n + m.count, 0);
  const byPattern = new Map<FindingPattern, RuleMatch[]>();
  for (const match of matches) byPattern.set(match.rule.pattern, [...(byPattern.get(match.rule.pattern) ?? []), match]);
  const findings = [...byPattern].map(([pattern, group]) => patternFinding(pattern, group, parsed));

  const summary: Summary = {
    scope: parsed.scope ?? (parsed.sinceBoot ? 'since boot' : 'window'),
    records: parsed.records.length,
    capped: parsed.capped,
    lostRecords: parsed.lost,
    ...(parsed.levelsKnown === false
      ? {}
      : { errorRecords: parsed.records.filter((r) => r.level <= 3).length, warningRecords: parsed.records.filter((r) => r.level === 4).length }),
    rules: rules.length,
    userSpaceMatchesIgnored: userSpaceMatches,
  };
  const first = parsed.records.find((r) => r.usec >= 0);
  const last = parsed.records.findLast((r) => r.usec >= 0);
  if (first && last) {
    summary.firstRecordSeconds = Number((first.usec / 1e6).toFixed(6));
    summary.lastRecordSeconds = Number((last.usec / 1e6).toFixed(6));
  }
  for (const [pattern, group] of byPattern) summary[`matches.${pattern}`] = new Set(group.flatMap((m) => m.seqs)).size;
  return { summary, findings };
}
