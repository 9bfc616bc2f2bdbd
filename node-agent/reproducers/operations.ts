import type { Finding } from '../../api/v1alpha1/finding.js';
import { evidence, ms } from '../../lib/findings.js';
import type { Summary } from '../engine/capture.js';

/*
 * What a reproducer counts while it runs, in constant memory however long the window: operations
 * by outcome, error codes (at most maxErrorCodes distinct, the rest as "other"), and a log2
 * latency histogram in microseconds. Record and analysis are pure.
 */

export const maxErrorCodes = 16;
const buckets = 40;

export interface OperationRecord {
  attempts: number;
  succeeded: number;
  timeouts: number;
  /** Operations that completed but took at least the reproducer's "slow" limit (fs-sync). */
  slow: number;
  errors: Record<string, number>;
  /** histogramUs[i]: operations that took [2^i, 2^(i+1)) µs (index 0 also holds < 1 µs). */
  histogramUs: number[];
  maxUs: number;
  windowSeconds: number;
}

export function newRecord(): OperationRecord {
  return { attempts: 0, succeeded: 0, timeouts: 0, slow: 0, errors: {}, histogramUs: new Array<number>(buckets).fill(0), maxUs: 0, windowSeconds: 0 };
}

/** Counts one more attempt unless `max` were made already. */
export function takeOne(record: OperationRecord, max: number): boolean {
  if (record.attempts >= max) return false;
  record.attempts++;
  return true;
}

export function recordLatency(record: OperationRecord, us: number): void {
  const index = Math.min(buckets - 1, us < 1 ? 0 : Math.floor(Math.log2(us)));
  record.histogramUs[index]! += 1;
  if (us > record.maxUs) record.maxUs = us;
}

export function recordError(record: OperationRecord, code: string | undefined): void {
  const known = Object.keys(record.errors);
  const key = code && (known.includes(code) || known.length < maxErrorCodes - 1) ? code : 'other';
  record.errors[key] = (record.errors[key] ?? 0) + 1;
}

/** The upper bound of the bucket that holds the `fraction` quantile, bounded by the slowest operation. */
export function quantileUs(record: OperationRecord, fraction: number): number | undefined {
  const total = record.histogramUs.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  const target = Math.ceil(total * fraction);
  let seen = 0;
  for (const [i, count] of record.histogramUs.entries()) {
    seen += count;
    if (seen >= target && count > 0) return Math.min(2 ** (i + 1), record.maxUs);
  }
  return record.maxUs;
}

export function failed(record: OperationRecord): number {
  return record.attempts - record.succeeded + record.slow;
}

/** The reproducer's headline figures: failurePercent is what the comparison calls reproducer-failure-percent. */
export function operationSummary(record: OperationRecord, unit: string): Summary {
  const errors = Object.values(record.errors).reduce((a, b) => a + b, 0);
  const summary: Summary = {
    [unit]: record.attempts,
    succeeded: record.succeeded,
    failed: failed(record),
    timeouts: record.timeouts,
    errors,
    failurePercent: record.attempts > 0 ? Math.round((10_000 * failed(record)) / record.attempts) / 100 : 0,
    windowSeconds: Math.round(record.windowSeconds * 10) / 10,
    perSecond: record.windowSeconds > 0 ? Math.round(record.attempts / record.windowSeconds) : 0,
  };
  if (record.slow > 0) summary.slow = record.slow;
  const p50 = quantileUs(record, 0.5);
  const p99 = quantileUs(record, 0.99);
  if (p50 !== undefined) summary.p50Ms = p50 / 1000;
  if (p99 !== undefined) summary.p99Ms = p99 / 1000;
  if (record.maxUs > 0) summary.maxMs = Math.round(record.maxUs) / 1000;
  for (const [code, count] of Object.entries(record.errors)) summary[`error.${code}`] = count;
  return summary;
}

/** The figures as evidence lines. */
export function operationEvidence(record: OperationRecord, what: string): string[] {
  const p50 = quantileUs(record, 0.5);
  const p99 = quantileUs(record, 0.99);
  const codes = Object.entries(record.errors)
    .sort((a, b) => b[1] - a[1])
    .map(([code, count]) => `${code} ${count}`)
    .join(', ');
  return [
    `${record.attempts} ${what} in ${record.windowSeconds.toFixed(1)} s: ${record.succeeded} succeeded, ${record.timeouts} timed out, ${Object.values(record.errors).reduce((a, b) => a + b, 0)} failed with an error${record.slow ? `, ${record.slow} slow` : ''}`,
    ...(codes ? [`errors: ${codes}`] : []),
    ...(p50 !== undefined && p99 !== undefined ? [`latency p50 <= ${ms(p50)}, p99 <= ${ms(p99)}, max ${ms(record.maxUs)}`] : []),
  ];
}

/** A finding when operations failed, timed out or were slow: critical at 1% or more of them. */
export function failureFinding(record: OperationRecord, kind: string, what: string, extra: string[], recommendation: string): Finding | undefined {
  const bad = failed(record);
  if (bad === 0) return undefined;
  const percent = record.attempts > 0 ? (100 * bad) / record.attempts : 0;
  return {
    pattern: 'reproducer-failures',
    severity: percent >= 1 ? 'critical' : 'warning',
    title: `${kind}: ${bad} of ${record.attempts} ${what} failed or were too slow (${percent.toFixed(2)}%)`,
    evidence: evidence([...operationEvidence(record, what), ...extra]),
    recommendation,
  };
}

/** Validates a recorded run read back from JSON (the worker hands it over as text). */
export function parseRecord(raw: unknown): OperationRecord {
  const r = raw as Partial<OperationRecord> | undefined;
  if (!r || typeof r.attempts !== 'number' || !Array.isArray(r.histogramUs)) throw new Error('reproducer output is not an operation record');
  return { ...newRecord(), ...r, errors: { ...(r.errors ?? {}) } };
}
