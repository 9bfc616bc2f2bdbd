import type { Finding, FindingPattern } from '../../../api/v1alpha1/finding.js';
import { evidence, severityRank } from '../../../lib/findings.js';
import { formatRecord, type KmsgRecord } from '../../engine/kmsg-record.js';
import type { RuleMatch } from './match.js';

const maxTallyValues = 5;

/** Where the matched records were read: "since boot", "during the window", "in the last 2 s". */
export interface MatchScope {
  text: string;
  /** Approximate wall-clock time of boot on the printk clock, in ms since the epoch; unknown for a pasted log. */
  bootWallMs: number | undefined;
}

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

/** The matches of one pattern, most severe and most frequent rule first. */
export function rankMatches(matches: RuleMatch[]): RuleMatch[] {
  return [...matches].sort((a, b) => severityRank[b.rule.severity] - severityRank[a.rule.severity] || b.count - a.count);
}

/**
 * One finding for the rules of one pattern that matched: counts, first and last time, the values
 * of the rules' named groups (task names, devices) and a few example lines. `details` (who was
 * affected, such as the pods of OOM-killed processes) follow the counts.
 */
export function patternFinding(pattern: FindingPattern, matches: RuleMatch[], scope: MatchScope, details: string[] = []): Finding {
  const ranked = rankMatches(matches);
  const top = ranked[0]!;
  const records = new Set(matches.flatMap((m) => m.seqs)).size;
  const lines: string[] = [];
  for (const match of ranked) {
    lines.push(
      `${match.rule.id}: ${match.count} record${match.count === 1 ? '' : 's'} ${scope.text}; first ${when(match.first, scope.bootWallMs)}` +
        (match.count > 1 ? `, last ${when(match.last, scope.bootWallMs)}` : ''),
    );
  }
  lines.push(...details);
  for (const match of ranked) lines.push(...tallyLines(match));
  for (const match of ranked) lines.push(...match.examples.map(exampleLine));
  return {
    pattern,
    severity: top.rule.severity,
    title: `${top.rule.title} (${records} record${records === 1 ? '' : 's'} ${scope.text})`,
    evidence: evidence(lines, 20),
    recommendation: top.rule.recommendation,
  };
}

/** Matches grouped by the pattern they report. */
export function byPattern(matches: RuleMatch[]): Map<FindingPattern, RuleMatch[]> {
  const groups = new Map<FindingPattern, RuleMatch[]>();
  for (const match of matches) groups.set(match.rule.pattern, [...(groups.get(match.rule.pattern) ?? []), match]);
  return groups;
}
