import type { CapturePhase, KernelCaptureStatus } from '../../api/v1alpha1/capture.js';
import type { NodeReport } from '../engine/run.js';

const maxFindings = 64;

/**
 * The phase of a finished capture: Succeeded if anything ran, Unsupported if nothing could,
 * TimedOut if what could run was stopped by a deadline, else Failed.
 */
export function finalPhase(report: NodeReport): CapturePhase {
  const states = report.captures.map((c) => c.state);
  if (states.includes('Succeeded')) return 'Succeeded';
  if (states.length > 0 && states.every((s) => s === 'Unsupported')) return 'Unsupported';
  if (states.includes('TimedOut') && states.every((s) => s === 'TimedOut' || s === 'Unsupported')) return 'TimedOut';
  return 'Failed';
}

/** One line on what did not succeed: "ftrace Unsupported: the function tracer is refused ...". */
export function problemsMessage(report: NodeReport): string | undefined {
  const problems = report.captures.filter((c) => c.state !== 'Succeeded').map((c) => `${c.name} ${c.state}: ${c.message ?? c.reason}`);
  if (problems.length === 0) return undefined;
  const text = problems.join('; ');
  return text.length > 2000 ? `${text.slice(0, 1997)}...` : text;
}

/** The KernelCapture status an agent writes when it has run the captures. */
export function finishedStatus(report: NodeReport, agentVersion: string, kernelVersion: string): KernelCaptureStatus {
  const findings = report.findings.slice(0, maxFindings);
  const message = problemsMessage(report);
  return {
    phase: finalPhase(report),
    startTime: report.startTime,
    completionTime: report.completionTime,
    agentVersion,
    kernelVersion,
    ...(message ? { message } : {}),
    results: report.captures.map((c) => ({
      name: c.name,
      kind: c.kind,
      state: c.state,
      ...(c.reason ? { reason: c.reason } : {}),
      ...(c.message ? { message: c.message.slice(0, 2048) } : {}),
      startTime: c.startTime,
      completionTime: c.completionTime,
      summary: c.summary,
    })),
    findingCount: report.findings.length,
    findings,
    artifacts: report.artifacts.slice(0, 64),
  };
}
