import { findingPods } from '../../engine/workload.js';
import { hungTaskLines, hungTasks } from '../../patterns/kernel-log/hung-tasks.js';
import { oomVictims, victimLines } from '../../patterns/kernel-log/oom-victims.js';
import type { CaptureAnalysis, Summary } from '../../engine/capture.js';
import { byPattern, patternFinding } from '../../patterns/kernel-log/finding.js';
import { matchRules } from '../../patterns/kernel-log/match.js';
import type { KernelLogRule } from '../../patterns/kernel-log/rules.js';
import type { ParsedKernelLog } from './parse.js';

function scopeOf(parsed: ParsedKernelLog): string {
  return parsed.scope ?? (parsed.sinceBoot ? 'since boot' : 'during the window');
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
  const groups = byPattern(matches);
  const scope = { text: scopeOf(parsed), bootWallMs: parsed.bootWallMs };
  const kernelRecords = parsed.records.filter((r) => r.facility === 0);
  const victims = victimLines(oomVictims(kernelRecords), parsed.workloads ?? {});
  // Named only where the node named them: a pasted log has no running tasks to look at.
  const hung = parsed.taskWorkloads ? hungTaskLines(hungTasks(kernelRecords), parsed.taskWorkloads) : [];
  const details = (pattern: string): string[] => (pattern === 'oom-kill' ? victims : pattern === 'hung-task' ? hung : []);
  const victimPods = findingPods(oomVictims(kernelRecords).map((v) => parsed.workloads?.[v.memcg]));
  const hungPods = parsed.taskWorkloads ? findingPods(hungTasks(kernelRecords).map((t) => parsed.taskWorkloads![t.pid])) : {};
  const podsOf = (pattern: string) => (pattern === 'oom-kill' ? victimPods : pattern === 'hung-task' ? hungPods : {});
  const findings = [...groups].map(([pattern, group]) => ({ ...patternFinding(pattern, group, scope, details(pattern)), ...podsOf(pattern) }));

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
  for (const [pattern, group] of groups) summary[`matches.${pattern}`] = new Set(group.flatMap((m) => m.seqs)).size;
  return { summary, findings };
}
