import { describe, expect, it } from 'vitest';
import { buildInvestigation } from '../../cli/cluster-investigation.js';

const base = { nodes: ['node-1'], captures: [{ tcp: {} }], durationSeconds: 5 };

describe('the KernelInvestigation the investigate flags describe', () => {
  it('runs a baseline window first with --baseline, or compares with an earlier investigation with --baseline-from', () => {
    expect(buildInvestigation({ ...base, workload: { tcpChurn: {} }, baseline: { run: true } }).spec).toMatchObject({
      workload: { tcpChurn: {} },
      baseline: { run: true },
    });
    expect(buildInvestigation({ ...base, baseline: { investigation: 'before-upgrade' } }).spec.baseline).toEqual({ investigation: 'before-upgrade' });
  });

  it('refuses a baseline window without a workload, as the API server would, naming the field', () => {
    expect(() => buildInvestigation({ ...base, baseline: { run: true } })).toThrow(/spec\.baseline: baseline\.run needs spec\.workload/);
  });
});
