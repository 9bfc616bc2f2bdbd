import { describe, expect, it } from 'vitest';
import type { Finding } from '../../../api/v1alpha1/finding.js';
import { ActiveFindings } from '../../../node-agent/watch/findings.js';

const config = { transientSeconds: 3600, maxActive: 2, maxEvidence: 2, eventsPerMinute: 10, resolveAfter: 2 };
const finding = (pattern: Finding['pattern'], severity: Finding['severity'], title = 'a title'): Finding => ({
  pattern,
  severity,
  title,
  evidence: ['one', 'two', 'three'],
  recommendation: 'do something',
});

describe('ActiveFindings', () => {
  it('counts kernel-log records of a pattern in one finding that keeps its worst severity and first time', () => {
    let now = Date.UTC(2026, 11, 1);
    const active = new ActiveFindings(config, () => now);
    expect(active.kernelLog({ rule: 'oom-kill', finding: finding('oom-kill', 'critical') }, 1).kind).toBe('raised');
    now += 60_000;
    const change = active.kernelLog({ rule: 'oom-kill-cgroup', finding: finding('oom-kill', 'warning', 'later') }, 3);
    expect(change).toMatchObject({ kind: 'repeated', records: 3 });
    expect(change.finding).toMatchObject({
      id: 'kernel-log/oom-kill',
      source: 'kernel-log',
      rule: 'oom-kill-cgroup',
      severity: 'critical',
      title: 'later',
      count: 4,
      firstTime: '2026-12-01T00:00:00Z',
      lastTime: '2026-12-01T00:01:00Z',
      evidence: ['one', 'two'],
    });
  });

  it('keeps a permanent problem apart from the transient ones of its pattern, until the node reboots', () => {
    let now = Date.UTC(2026, 11, 1);
    const active = new ActiveFindings(config, () => now);
    active.kernelLog({ rule: 'edac-corrected', finding: finding('hardware-error', 'warning') }, 1);
    active.kernelLog({ rule: 'edac-uncorrected', condition: 'KernelHardwareError', finding: finding('hardware-error', 'critical') }, 1);
    expect(active.all().map((f) => f.id)).toEqual(['kernel-log/hardware-error/KernelHardwareError', 'kernel-log/hardware-error']);
    expect([...active.conditions().keys()]).toEqual(['KernelHardwareError']);
    now += 3601_000;
    expect(active.expire().map((c) => c.finding.id)).toEqual(['kernel-log/hardware-error']);
    expect(active.rebooted().map((c) => c.finding.id)).toEqual(['kernel-log/hardware-error/KernelHardwareError']);
    expect(active.all()).toEqual([]);
  });

  it('resolves a trend after resolveAfter evaluations in a row without it', () => {
    const active = new ActiveFindings(config);
    expect(
      active.trend('slab-cache-growth', { rule: 'slab-cache-growth', condition: 'KernelSlabGrowth', finding: finding('slab-growth-trend', 'warning') })!.kind,
    ).toBe('raised');
    expect(active.trend('slab-cache-growth', undefined)).toBeUndefined();
    expect(active.trend('slab-cache-growth', { rule: 'slab-cache-growth', finding: finding('slab-growth-trend', 'critical') })).toMatchObject({
      kind: 'updated',
      severityChanged: true,
    });
    expect(active.trend('slab-cache-growth', undefined)).toBeUndefined();
    expect(active.trend('slab-cache-growth', undefined)).toMatchObject({ kind: 'resolved', finding: { id: 'trend/slab-cache-growth', count: 2 } });
  });

  it('lists at most maxActive, most severe first', () => {
    const active = new ActiveFindings(config);
    active.kernelLog({ rule: 'a', finding: finding('oom-kill', 'info') }, 1);
    active.kernelLog({ rule: 'b', finding: finding('hung-task', 'critical') }, 1);
    active.kernelLog({ rule: 'c', finding: finding('io-error', 'warning') }, 1);
    expect(active.listed().map((f) => f.pattern)).toEqual(['hung-task', 'io-error']);
    expect(active.all()).toHaveLength(3);
  });
});
