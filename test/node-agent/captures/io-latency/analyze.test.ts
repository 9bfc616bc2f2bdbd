import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ioLatencyParams } from '../../../../api/v1alpha1/captures.js';
import { finding } from '../../../../api/v1alpha1/finding.js';
import { analyzeIoLatency } from '../../../../node-agent/captures/io-latency/analyze.js';
import { parseIoLatency, type IoLatencyParsed } from '../../../../node-agent/captures/io-latency/parse.js';
import { writeStall } from '../../../../node-agent/patterns/write-stall.js';

const fixture = (name: string): string => readFileSync(new URL(`../../../fixtures/io-latency/${name}`, import.meta.url), 'utf8');
const deviceNames = { '254:0': 'vda', '7:0': 'loop0' };
const journaled = (): IoLatencyParsed => parseIoLatency({ output: fixture('vda-and-loop-ext4-journal.json'), deviceNames });

describe('analyzeIoLatency', () => {
  it('reports the recorded outliers above 1 ms on vda (the threshold they were counted with)', () => {
    const parsed = parseIoLatency({ output: fixture('vda-direct-writes-threshold-1ms.json'), deviceNames });
    const { findings, summary } = analyzeIoLatency(parsed, ioLatencyParams.parse({ outlierThresholdMs: 1 }));
    expect(findings).toHaveLength(1);
    // The slowest took 27 times the threshold: critical.
    expect(findings[0]).toMatchObject({ pattern: 'io-latency', severity: 'critical', title: 'vda: 47 I/O requests took 1 ms or more (max 27 ms)' });
    expect(findings[0]!.evidence[0]).toBe('vda (254:0) requests: 671 in the window, p50 <= 0.3 ms, p99 <= 4.1 ms, max 27 ms');
    expect(findings[0]!.evidence[1]).toBe('47 requests (7.00%) at or above 1 ms');
    expect(() => finding.parse(findings[0])).not.toThrow();
    expect(summary).toMatchObject({ devices: 1, requests: 671, outliers: 47, 'vda.maxMs': 26.926, journals: 0 });
    // One device: the node's percentiles are the device's, as in the evidence line.
    expect(summary).toMatchObject({ p50Ms: parsed.devices[0]!.p50Us! / 1000, p99Ms: parsed.devices[0]!.p99Us! / 1000 });
    expect(summary.p99Ms).toBeCloseTo(4.1, 1);
    expect(summary.commitP50Ms).toBeUndefined();
  });

  it('finds nothing in the recorded journaled run: fast I/O, commits of a few ms', () => {
    const { findings, summary } = analyzeIoLatency(journaled(), ioLatencyParams.parse({}));
    expect(findings).toEqual([]);
    expect(summary).toMatchObject({ journals: 1, 'loop0.commits': 12, 'loop0.commitMaxMs': 9.067, 'loop0.lockedMaxMs': 0.007 });
    // Commit percentiles over all journals, never above the slowest commit.
    expect(summary.commitP99Ms).toBeLessThanOrEqual(9.067);
    expect(summary.commitP50Ms).toBeGreaterThan(0);
    expect(summary.commitP50Ms).toBeLessThanOrEqual(summary.commitP99Ms as number);
    // Requests of every device merged: p50 no higher than p99.
    expect(summary.p50Ms).toBeLessThanOrEqual(summary.p99Ms as number);
  });

  it('calls outliers above 1% of requests a warning (derived input)', () => {
    const parsed = journaled();
    const vda = parsed.devices.find((d) => d.device === 'vda')!;
    vda.outliers = Math.ceil(vda.count * 0.02);
    vda.maxUs = 300_000;
    expect(analyzeIoLatency(parsed, ioLatencyParams.parse({})).findings[0]!.severity).toBe('warning');
  });

  it('calls an outlier ten times the threshold critical, and a lone small one info (derived input)', () => {
    const parsed = journaled();
    const vda = parsed.devices.find((d) => d.device === 'vda')!;
    vda.outliers = 1;
    vda.maxUs = 1_200_000;
    expect(analyzeIoLatency(parsed, ioLatencyParams.parse({})).findings[0]!.severity).toBe('critical');
    vda.maxUs = 150_000;
    expect(analyzeIoLatency(parsed, ioLatencyParams.parse({})).findings[0]!.severity).toBe('info');
  });

  it('reports a long jbd2 commit as a write stall with a sysctl mitigation (derived input)', () => {
    const parsed = journaled();
    parsed.journals[0]!.commits!.maxUs = 1_500_000;
    const { findings } = analyzeIoLatency(parsed, ioLatencyParams.parse({}));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      pattern: 'write-stall',
      severity: 'warning',
      title: 'Journal of loop0: commits took up to 1500 ms',
      suggestedMitigation: {
        sysctls: [
          { name: 'vm.dirty_background_ratio', value: '5' },
          { name: 'vm.dirty_ratio', value: '10' },
        ],
      },
    });
    expect(() => finding.parse(findings[0])).not.toThrow();
  });

  it('calls a long locked phase critical: every writer waited (derived input)', () => {
    const parsed = journaled();
    parsed.journals[0]!.locked!.maxUs = writeStall.lockedCriticalMs * 1000;
    const { findings } = analyzeIoLatency(parsed, ioLatencyParams.parse({}));
    expect(findings[0]).toMatchObject({
      pattern: 'write-stall',
      severity: 'critical',
      title: 'Journal of loop0: writers held up to 1000 ms in the locked phase',
    });
  });
});
