import { severities, type Severity } from '../api/v1alpha1/finding.js';
import { UsageError } from './command.js';

/** The exit codes of commands that report findings; the usage texts list them. */
export const exitCodes = {
  ok: 0,
  /** An error, or an investigation that failed. */
  failed: 1,
  usage: 2,
  /** A finding at or above --fail-on. */
  findings: 3,
} as const;

export const failOnOption = { 'fail-on': { type: 'string' } } as const;

export const failOnUsage = `  --fail-on info|warning|critical
                     exit ${exitCodes.findings} when a finding is at least this severe (for CI and scripts)`;

export const exitCodesUsage = `Exit codes: ${exitCodes.ok} done, ${exitCodes.failed} error or investigation failed, ${exitCodes.usage} wrong usage, ${exitCodes.findings} a finding at or above --fail-on.`;

export function failOnSeverity(value: string | undefined): Severity | undefined {
  if (value === undefined) return undefined;
  if (!(severities as readonly string[]).includes(value)) throw new UsageError(`--fail-on ${value}: use one of ${severities.join(', ')}`);
  return value as Severity;
}

/** Whether `severity` (a finding's, or an investigation's highest; "none" for none) reaches the threshold. */
export function reaches(severity: string | undefined, threshold: Severity | undefined): boolean {
  if (threshold === undefined || severity === undefined) return false;
  const rank = severities.indexOf(severity as Severity);
  return rank >= 0 && rank >= severities.indexOf(threshold);
}
