import type { KmsgRecord } from '../engine/kmsg-record.js';
import { matchRules, maxTraceRecords, traceEnd, type RuleMatch } from '../patterns/kernel-log/match.js';
import type { KernelLogRule } from '../patterns/kernel-log/rules.js';
import { ownString } from '../../lib/own-string.js';

interface Pending {
  rule: KernelLogRule;
  record: KmsgRecord;
  arrivedMs: number;
}

/** Records kept for call traces that arrive after the record that starts them. */
const contextRecords = 2 * maxTraceRecords;
/** Records waiting for their call trace at most; a flood of hung tasks drops the oldest. */
const maxPending = 32;

/** A record to keep: its strings are copies, not views of the poll's text. */
function kept(record: KmsgRecord): KmsgRecord {
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(record.fields)) fields[ownString(key)] = ownString(value);
  return { ...record, flags: ownString(record.flags), message: ownString(record.message), fields };
}

/**
 * Matches the kernel-log rules against records as they arrive, batch after batch. A rule without
 * `stack` matches at once. A rule with `stack` needs the call trace that follows its record, which
 * may come in a later batch: the record waits until its trace ends, maxTraceRecords records
 * followed it, or settleMs passed. Only the kernel's own records count (facility 0): user space
 * can write look-alikes into /dev/kmsg. Holds a bounded window of records.
 */
export class KernelLogMatcher {
  private readonly immediate: KernelLogRule[];
  private readonly traced: KernelLogRule[];
  private readonly context: KmsgRecord[] = [];
  private pending: Pending[] = [];

  constructor(
    rules: KernelLogRule[],
    private readonly settleMs = 5000,
  ) {
    this.immediate = rules.filter((r) => !r.stack);
    this.traced = rules.filter((r) => r.stack);
  }

  /** The rule matches that are settled after these records arrived at nowMs. */
  feed(batch: KmsgRecord[], nowMs: number): RuleMatch[] {
    const records = batch.filter((r) => r.facility === 0);
    const matches = records.length > 0 ? matchRules(records, this.immediate) : [];
    for (const [i, record] of records.entries()) {
      const traced = this.traced.filter((rule) => rule.match.test(record.message));
      if (traced.length === 0 && i < records.length - contextRecords) continue;
      const copy = kept(record);
      this.context.push(copy);
      for (const rule of traced) this.pending.push({ rule, record: copy, arrivedMs: nowMs });
    }
    this.context.splice(0, Math.max(0, this.context.length - contextRecords));
    this.pending.splice(0, Math.max(0, this.pending.length - maxPending));
    this.pending = this.pending.filter((p) => {
      const following = this.traceAfter(p);
      const [match] = matchRules([p.record, ...following.records], [p.rule]);
      if (match) matches.push(match);
      return !match && !following.ended && nowMs - p.arrivedMs < this.settleMs;
    });
    return matches;
  }

  /** The records after a pending one, up to the end of its trace or the next record its rule matches. */
  private traceAfter(p: Pending): { records: KmsgRecord[]; ended: boolean } {
    const start = this.context.findIndex((r) => r.seq > p.record.seq);
    const records: KmsgRecord[] = [];
    if (start < 0) return { records, ended: false };
    for (const record of this.context.slice(start)) {
      if (p.rule.match.test(record.message)) return { records, ended: true };
      records.push(record);
      if (traceEnd.test(record.message) || records.length >= maxTraceRecords) return { records, ended: true };
    }
    return { records, ended: false };
  }
}
