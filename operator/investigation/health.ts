import type { KernelInvestigationStatus } from '../../api/v1alpha1/investigation.js';
import { findCondition, setHealth, type Clock, type Health } from '../../lib/conditions.js';

/**
 * Ready, Reconciling or Stalled (docs/gitops.md): pending or running is Reconciling; completed
 * with at least one node's results is Ready (timed-out nodes are named in the message); failed,
 * or completed with no node's capture succeeding, is Stalled: only a new investigation helps.
 */
export function investigationHealth(status: KernelInvestigationStatus): Health {
  const complete = findCondition(status.conditions, 'Complete');
  const reason = complete?.reason ?? 'Pending';
  const message = complete?.message ?? 'waiting for the operator';
  if (status.phase === 'Failed') {
    const failed = findCondition(status.conditions, 'Failed');
    return { state: 'Stalled', reason: failed?.reason ?? reason, message: failed?.message ?? message };
  }
  if (status.phase !== 'Completed') return { state: 'Reconciling', reason, message };
  if ((status.captures?.succeeded ?? 0) === 0) return { state: 'Stalled', reason: 'NoCaptureSucceeded', message: `no node’s capture succeeded: ${message}` };
  return { state: 'Ready', reason, message };
}

/** The status with Ready, Reconciling and Stalled set from what it says. */
export function withHealth(status: KernelInvestigationStatus, generation: number | undefined, clock?: Clock): KernelInvestigationStatus {
  return { ...status, conditions: setHealth(status.conditions, investigationHealth(status), generation, clock) };
}
