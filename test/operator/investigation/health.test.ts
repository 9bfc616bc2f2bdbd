import { describe, expect, it } from 'vitest';
import type { KernelInvestigationStatus } from '../../../api/v1alpha1/investigation.js';
import { findCondition, setCondition } from '../../../lib/conditions.js';
import { withHealth } from '../../../operator/investigation/health.js';

const clock = () => new Date('2026-12-01T00:00:00Z');
const complete = (status: 'True' | 'False', reason: string, message: string) =>
  setCondition(undefined, { type: 'Complete', status, reason, message, observedGeneration: 2 }, clock);
const captures = (succeeded: number, failed: number) => ({ pending: 0, running: 0, succeeded, failed, unsupported: 0, timedOut: 0 });

function health(status: KernelInvestigationStatus): [string, string, string] {
  const conditions = withHealth(status, 2, clock).conditions;
  const trueOne = ['Ready', 'Reconciling', 'Stalled'].filter((t) => findCondition(conditions, t)?.status === 'True');
  expect(trueOne).toHaveLength(1);
  const c = findCondition(conditions, trueOne[0]!)!;
  expect(c.observedGeneration).toBe(2);
  return [c.type, c.reason, c.message];
}

describe('investigation health (Ready, Reconciling, Stalled)', () => {
  it('is Reconciling while it waits for nodes or captures run', () => {
    expect(health({ phase: 'Pending', conditions: complete('False', 'WaitingForNodes', 'waiting') })).toEqual(['Reconciling', 'WaitingForNodes', 'waiting']);
    expect(health({ phase: 'Running', conditions: complete('False', 'CapturesRunning', '1 of 2 nodes reported') })[0]).toBe('Reconciling');
  });

  it('is Ready once completed with results, timed-out nodes named in the message', () => {
    const conditions = complete('True', 'DeadlineExceeded', '0 findings from 1 of 2 nodes; 1 timed out (b)');
    expect(health({ phase: 'Completed', captures: captures(1, 0), conditions })).toEqual([
      'Ready',
      'DeadlineExceeded',
      '0 findings from 1 of 2 nodes; 1 timed out (b)',
    ]);
  });

  it('is Stalled when it failed, or completed with no capture succeeding', () => {
    const failed = setCondition(
      complete('True', 'NoEligibleNodes', 'no node'),
      { type: 'Failed', status: 'True', reason: 'NoEligibleNodes', message: 'no node' },
      clock,
    );
    expect(health({ phase: 'Failed', conditions: failed })).toEqual(['Stalled', 'NoEligibleNodes', 'no node']);
    expect(health({ phase: 'Completed', captures: captures(0, 2), conditions: complete('True', 'AllNodesReported', '0 findings from 2 of 2 nodes') })[1]).toBe(
      'NoCaptureSucceeded',
    );
  });
});
