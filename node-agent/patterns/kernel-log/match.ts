import type { KmsgRecord } from '../../engine/kmsg-record.js';
import type { KernelLogRule } from './rules.js';

/** What one rule matched. */
export interface RuleMatch {
  rule: KernelLogRule;
  count: number;
  /** Sequence numbers of the matching records (a record matched by two rules of one pattern counts once). */
  seqs: number[];
  first: KmsgRecord;
  last: KmsgRecord;
  /** A few matching records, oldest first, with the call-trace frame that matched `stack`. */
  examples: { record: KmsgRecord; frame?: string }[];
  /** Values of the rule's named groups and how often each was seen. */
  groups: Record<string, Record<string, number>>;
}

/** How far after a record its call trace may run. */
export const maxTraceRecords = 64;
/** The line that ends a call trace. */
export const traceEnd = /^\s*<\/TASK>|---\[ end trace/;
const maxExamples = 3;

/** The call-trace line after records[index] that matches `stack`, if any. */
function stackFrame(records: KmsgRecord[], index: number, rule: KernelLogRule): RegExpExecArray | undefined {
  for (let i = index + 1; i < records.length && i <= index + maxTraceRecords; i++) {
    const message = records[i]!.message;
    if (rule.match.test(message)) return undefined;
    const frame = rule.stack!.exec(message);
    if (frame) return frame;
    if (traceEnd.test(message)) return undefined;
  }
  return undefined;
}

/** Tests every record against every rule. Pure. */
export function matchRules(records: KmsgRecord[], rules: KernelLogRule[]): RuleMatch[] {
  const matches: RuleMatch[] = [];
  for (const rule of rules) {
    let found: RuleMatch | undefined;
    records.forEach((record, index) => {
      const m = rule.match.exec(record.message);
      if (!m) return;
      let frame: RegExpExecArray | undefined;
      if (rule.stack) {
        frame = stackFrame(records, index, rule);
        if (!frame) return;
      }
      found ??= { rule, count: 0, seqs: [], first: record, last: record, examples: [], groups: {} };
      found.count++;
      found.seqs.push(record.seq);
      found.last = record;
      const example = { record, ...(frame ? { frame: frame.input.trim() } : {}) };
      // The first few, and the latest in the last slot: it shows whether the problem still happens.
      if (found.examples.length < maxExamples) found.examples.push(example);
      else found.examples[maxExamples - 1] = example;
      for (const [group, value] of Object.entries({ ...m.groups, ...frame?.groups })) {
        if (value === undefined) continue;
        const tally = (found.groups[group] ??= {});
        tally[value] = (tally[value] ?? 0) + 1;
      }
    });
    if (found) matches.push(found);
  }
  return matches;
}
