import { describe, expect, it } from 'vitest';
import type { KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { renderInvestigation } from '../../cli/investigation-view.js';

describe('renderInvestigation', () => {
  it('shows the figures per group and the differences that stand out', () => {
    const investigation = {
      apiVersion: 'ksleuth.io/v1alpha1',
      kind: 'KernelInvestigation',
      metadata: { name: 'cmp' },
      spec: { nodes: { selector: {}, maxNodes: 10 }, captures: [{ cpuProfile: {} }], durationSeconds: 30, ttlSecondsAfterFinished: 60 },
      status: {
        phase: 'Completed',
        findings: [],
        comparison: {
          by: 'kernelVersion',
          groups: [
            { value: '6.1.0-28-amd64', nodes: 3, reported: 3, patterns: [], figures: [{ name: 'kernel-cpu-percent', nodes: 3, median: 41, min: 38, max: 45 }] },
            { value: '6.1.0-18-amd64', nodes: 3, reported: 3, patterns: [], figures: [{ name: 'kernel-cpu-percent', nodes: 3, median: 12, min: 10, max: 14 }] },
          ],
          differences: [
            {
              figure: 'kernel-cpu-percent',
              higher: '6.1.0-28-amd64',
              lower: '6.1.0-18-amd64',
              statement: 'kernel-cpu-percent: every node of 6.1.0-28-amd64 gave more',
            },
          ],
        },
      },
    } as unknown as KernelInvestigation;
    const text = renderInvestigation(investigation, [], { now: new Date('2026-12-03T00:00:00Z') });
    expect(text).toContain('FIGURES PER GROUP');
    expect(text).toMatch(/6\.1\.0-28-amd64\s+kernel-cpu-percent\s+41\s+38–45\s+3/);
    expect(text).toContain('DIFFERENCES BEYOND THE SPREAD INSIDE THE GROUPS');
    expect(text).toContain('  kernel-cpu-percent: every node of 6.1.0-28-amd64 gave more');
  });
});
