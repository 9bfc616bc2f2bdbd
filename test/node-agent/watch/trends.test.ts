import { describe, expect, it } from 'vitest';
import type { LevelTrendConfig, RiseTrendConfig } from '../../../node-agent/watch/config.js';
import { History } from '../../../node-agent/watch/history.js';
import { evaluateTrend, seriesPattern } from '../../../node-agent/watch/trends.js';

const tiers = [{ stepSeconds: 60, points: 1440 }];
const t0 = Date.UTC(2026, 11, 1);
const minute = 60_000;
const MiB = 1024 * 1024;

const slabGrowth: RiseTrendConfig = {
  id: 'slab-cache-growth',
  enabled: true,
  pattern: 'slab-growth-trend',
  severity: 'warning',
  condition: 'KernelSlabGrowth',
  series: 'slab.*.bytes',
  subject: 'Slab cache {name}',
  unit: 'bytes',
  detector: 'rise',
  windowSeconds: 6 * 3600,
  minPoints: 60,
  minIncrease: 16 * MiB,
  minRiseShare: 0.5,
  maxFallShare: 0.2,
  minDailyShareOfMemory: 0.02,
  criticalDailyShareOfMemory: 0.25,
  recommendation: 'Start the slab capture.',
};

const stalls: LevelTrendConfig = {
  id: 'allocation-stalls-appear',
  enabled: true,
  pattern: 'allocation-stall-trend',
  severity: 'warning',
  series: 'vmstat.allocstall.rate',
  subject: 'Direct reclaim stalls',
  unit: 'perSecond',
  detector: 'level',
  windowSeconds: 3600,
  minPoints: 30,
  minLevel: 0.05,
  baselineSeconds: 12 * 3600,
  maxBaseline: 0.005,
  criticalLevel: 10,
  recommendation: 'Run the memory capture.',
};

/** A deterministic wobble in [-1, 1]. */
const wobble = (i: number): number => Math.sin(i * 12.9898) * 0.5 + Math.sin(i * 4.1414) * 0.5;

function history(series: Record<string, (minute: number) => number>, minutes: number): History {
  const h = new History(tiers, 64);
  for (let m = 0; m < minutes; m++) for (const [name, f] of Object.entries(series)) h.record(name, t0 + m * minute, f(m));
  return h;
}

const memTotalBytes = 16 * 1024 * MiB;
const at = (minutes: number) => t0 + (minutes - 1) * minute;

describe('rise: a series that grows steadily', () => {
  it('is found, with the numbers that show it, for a cache leaking 0.5 MiB a minute (4.4% of 16 GiB a day)', () => {
    const h = history(
      { 'slab.dentry.bytes': (m) => 200 * MiB + m * 0.5 * MiB + wobble(m) * 0.4 * MiB, 'slab.kmalloc-64.bytes': (m) => 30 * MiB + wobble(m) * MiB },
      400,
    );
    const finding = evaluateTrend(slabGrowth, { history: h, nowMs: at(400), memTotalBytes })!;
    expect(finding).toMatchObject({ pattern: 'slab-growth-trend', severity: 'warning', recommendation: 'Start the slab capture.' });
    expect(finding.title).toMatch(/^Slab cache dentry grew steadily by 1\d\d\.\d MiB in 6h$/);
    expect(finding.evidence[0]).toMatch(
      /^slab\.dentry\.bytes: \d+\.\d MiB -> \d+\.\d MiB over 6h \(\+1\d\d\.\d MiB, 3\d\.\d MiB per hour, 4\.\d% of memory per day at this pace\); rose in \d+ of 360 steps of 1m, fell in \d+$/,
    );
  });

  it('is critical past criticalDailyShareOfMemory, and one finding names every series that grows', () => {
    const h = history({ 'slab.dentry.bytes': (m) => m * 4 * MiB, 'slab.TCP.bytes': (m) => m * MiB }, 400);
    const finding = evaluateTrend(slabGrowth, { history: h, nowMs: at(400), memTotalBytes, context: (s) => [`context for ${s.join(' and ')}`] })!;
    expect(finding.severity).toBe('critical');
    expect(finding.title).toMatch(/^Slab cache dentry grew steadily by .* \(and 1 more\)$/);
    expect(finding.evidence.at(-1)).toBe('context for slab.dentry.bytes and slab.TCP.bytes');
  });

  it('is not found for noise, a burst followed by a plateau, growth too slow for the node, or a window not yet filled', () => {
    const none = (series: Record<string, (m: number) => number>, minutes = 400): unknown =>
      evaluateTrend(slabGrowth, { history: history(series, minutes), nowMs: at(minutes), memTotalBytes });
    expect(none({ 'slab.dentry.bytes': (m) => 200 * MiB + wobble(m) * 8 * MiB })).toBeUndefined();
    expect(none({ 'slab.dentry.bytes': (m) => (m < 380 ? 200 * MiB : 400 * MiB) })).toBeUndefined();
    // 20 MiB in 6 h steadily: 80 MiB a day, 0.5% of 16 GiB, under minDailyShareOfMemory.
    expect(none({ 'slab.dentry.bytes': (m) => 200 * MiB + (m * 20 * MiB) / 360 })).toBeUndefined();
    expect(none({ 'slab.dentry.bytes': (m) => m * 4 * MiB }, 120)).toBeUndefined();
  });
});

describe('level: allocation stalls that start to appear', () => {
  it('is found when the last hour averages above minLevel after a quiet baseline', () => {
    const h = history({ 'vmstat.allocstall.rate': (m) => (m < 730 ? 0 : 0.2 + wobble(m) * 0.05) }, 790);
    const finding = evaluateTrend(stalls, { history: h, nowMs: at(790) })!;
    expect(finding.title).toMatch(/^Direct reclaim stalls averaged 0\.\d\d\d\/s over the last 1h, up from 0\.000\/s in the 12h before$/);
    expect(finding.evidence[1]).toBe('thresholds: mean at least 0.050/s, baseline at most 0.005/s; critical from 10.0/s');
  });

  it('is not found when stalls were already there before, or when there is no baseline yet', () => {
    expect(evaluateTrend(stalls, { history: history({ 'vmstat.allocstall.rate': () => 0.2 }, 790), nowMs: at(790) })).toBeUndefined();
    expect(evaluateTrend(stalls, { history: history({ 'vmstat.allocstall.rate': () => 0.2 }, 60), nowMs: at(60) })).toBeUndefined();
  });
});

describe('seriesPattern', () => {
  it('matches one dotted part per *, and nothing else', () => {
    expect(seriesPattern('slab.*.bytes').exec('slab.kmalloc-rcl-8k.bytes')?.[1]).toBe('kmalloc-rcl-8k');
    expect(seriesPattern('slab.*.bytes').test('slab.a.b.bytes')).toBe(false);
    expect(seriesPattern('pressure.io.some').test('pressure.io.some')).toBe(true);
  });
});
