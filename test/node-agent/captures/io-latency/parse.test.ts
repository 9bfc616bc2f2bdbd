import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { devNumber } from '../../../../node-agent/captures/io-latency/devices.js';
import { parseIoLatency } from '../../../../node-agent/captures/io-latency/parse.js';
import { histogramCount } from '../../../../node-agent/engine/bpftrace-output.js';

const fixture = (name: string): string => readFileSync(new URL(`../../../fixtures/io-latency/${name}`, import.meta.url), 'utf8');
// The recording machine's block devices (see the fixtures' README).
const deviceNames = { '254:0': 'vda', '7:0': 'loop0' };

describe('devNumber', () => {
  it('splits a kernel dev_t (20 minor bits) into major:minor', () => {
    expect(devNumber(266338304)).toBe('254:0');
    expect(devNumber(7340032)).toBe('7:0');
    expect(devNumber((8 << 20) | 17)).toBe('8:17');
  });
});

describe('parseIoLatency', () => {
  it('reads the latency histogram, outliers and maximum of direct writes to vda', () => {
    const parsed = parseIoLatency({ output: fixture('vda-direct-writes-threshold-1ms.json'), deviceNames });
    expect(parsed.devices).toHaveLength(1);
    const vda = parsed.devices[0]!;
    expect(vda).toMatchObject({ device: 'vda', dev: '254:0', count: 671, outliers: 47, maxUs: 26926 });
    expect(histogramCount(vda.histogramUs)).toBe(vda.count);
    // Quantiles are bucket bounds, never above the slowest request.
    expect(vda.p50Us).toBe(255);
    expect(vda.p99Us).toBe(4095);
    expect(vda.p99Us!).toBeLessThanOrEqual(vda.maxUs);
    expect(parsed.journals).toEqual([]);
    expect(parsed.windowSeconds).toBeCloseTo(8.678, 3);
  });

  it('reads jbd2 commits and locked phases of a journaled filesystem, per device', () => {
    const parsed = parseIoLatency({ output: fixture('vda-and-loop-ext4-journal.json'), deviceNames });
    expect(parsed.devices.map((d) => d.device).sort()).toEqual(['loop0', 'vda']);
    expect(parsed.devices.every((d) => d.outliers === 0 && d.count === histogramCount(d.histogramUs))).toBe(true);
    expect(parsed.journals).toHaveLength(1);
    const journal = parsed.journals[0]!;
    expect(journal).toMatchObject({ device: 'loop0', dev: '7:0', commits: { count: 12, maxUs: 9067 }, locked: { count: 12, maxUs: 7 } });
    // The 99th percentile falls in the 8192-16383 us bucket; the slowest commit bounds it.
    expect(journal.commits!.p99Us).toBe(9067);
  });

  it('names devices by major:minor when their name is unknown', () => {
    const parsed = parseIoLatency({ output: fixture('vda-and-loop-ext4-journal.json'), deviceNames: {} });
    expect(parsed.devices.map((d) => d.device).sort()).toEqual(['254:0', '7:0']);
  });

  it('reads no window when the end was never printed (bpftrace stopped early)', () => {
    const text = fixture('vda-direct-writes-threshold-1ms.json').replace(/.*window_end_ns.*\n/, '');
    expect(parseIoLatency({ output: text, deviceNames }).windowSeconds).toBe(0);
  });

  it('returns nothing for empty output', () => {
    expect(parseIoLatency({ output: '', deviceNames })).toEqual({ windowSeconds: 0, devices: [], journals: [], malformedLines: 0 });
  });
});
