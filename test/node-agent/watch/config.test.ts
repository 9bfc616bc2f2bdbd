import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileWatchConfig, loadWatchConfig, mergeWatchConfig, shippedWatchConfigFile, WatchConfigError } from '../../../node-agent/watch/config.js';

const shipped = parse(readFileSync(shippedWatchConfigFile, 'utf8')) as { trends: { id: string }[] };

function errorOf(override: unknown): string {
  try {
    compileWatchConfig(mergeWatchConfig(shipped, override), 'in test.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(WatchConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('the shipped watch configuration', () => {
  it('loads, with a trend for each trend the issue names and history for a day and a month', () => {
    const config = loadWatchConfig();
    const patterns = new Set(config.trends.map((t) => t.pattern));
    for (const p of [
      'slab-growth-trend',
      'fragmentation-trend',
      'allocation-stall-trend',
      'memory-pressure-trend',
      'io-pressure-trend',
      'tcp-close-wait-trend',
    ]) {
      expect(patterns).toContain(p);
    }
    expect(config.history.tiers).toEqual([
      { stepSeconds: 60, points: 1440 },
      { stepSeconds: 600, points: 4320 },
    ]);
    expect(config.sampling.kernelLog.syslogSeconds).toBeGreaterThanOrEqual(config.sampling.kernelLog.kmsgSeconds);
  });
});

describe('overrides', () => {
  it('merge objects key by key and trends entry by entry by id', () => {
    const merged = compileWatchConfig(
      mergeWatchConfig(shipped, {
        sampling: { slab: { intervalSeconds: 1 } },
        trends: [
          { id: 'slab-cache-growth', windowSeconds: 30, minPoints: 10 },
          { id: 'retransmits-climb', enabled: false },
          {
            id: 'conntrack-growth',
            pattern: 'slab-growth-trend',
            series: 'slab.nf_conntrack.bytes',
            subject: 'conntrack entries',
            unit: 'bytes',
            detector: 'rise',
            windowSeconds: 600,
            minPoints: 5,
            minIncrease: 1,
            minRiseShare: 0.5,
            maxFallShare: 0.1,
            recommendation: 'Look at conntrack.',
          },
        ],
      }),
      'in test',
    );
    expect(merged.sampling.slab).toEqual({ intervalSeconds: 1, caches: 24, enabled: true });
    expect(merged.sampling.memory.intervalSeconds).toBe(60);
    const growth = merged.trends.find((t) => t.id === 'slab-cache-growth')!;
    expect(growth).toMatchObject({ windowSeconds: 30, minPoints: 10, minIncrease: 16777216, detector: 'rise' });
    expect(merged.trends.find((t) => t.id === 'retransmits-climb')!.enabled).toBe(false);
    expect(merged.trends.at(-1)!.id).toBe('conntrack-growth');
    expect(merged.trends.length).toBe(shipped.trends.length + 1);
  });

  it('are read from files, in order, and the error names the files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ksleuth-watch-config-'));
    try {
      await writeFile(join(dir, 'a.yaml'), 'history:\n  persistSeconds: 10\n');
      await writeFile(join(dir, 'b.yaml'), 'history:\n  persistSeconds: 20\n');
      expect(loadWatchConfig([join(dir, 'a.yaml'), join(dir, 'b.yaml')]).history.persistSeconds).toBe(20);
      await writeFile(join(dir, 'bad.yaml'), 'findings:\n  maxActive: 0\n');
      expect(() => loadWatchConfig([join(dir, 'bad.yaml')])).toThrow(/bad\.yaml merged over it\) is invalid:\n {2}field findings\.maxActive: /);
      expect(() => loadWatchConfig([join(dir, 'missing.yaml')])).toThrow(/missing\.yaml cannot be read/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a bad configuration fails, naming the entry and the field', () => {
  it('an unknown detector, field or condition', () => {
    expect(errorOf({ trends: [{ id: 'slab-cache-growth', detector: 'slope' }] })).toMatch(
      /trend #1 \(id "slab-cache-growth"\), field detector: detector must be rise or level/,
    );
    expect(errorOf({ trends: [{ id: 'slab-cache-growth', minIncrase: 5 }] })).toMatch(/trend #1 \(id "slab-cache-growth"\).*minIncrase/);
    expect(errorOf({ trends: [{ id: 'fragmentation-rising', condition: 'KernelDeadlock' }] })).toMatch(
      /trend #3 \(id "fragmentation-rising"\), field condition: "KernelDeadlock" is not a ksleuth node condition/,
    );
  });

  it('a window the history does not keep', () => {
    expect(errorOf({ trends: [{ id: 'slab-cache-growth-days', windowSeconds: 40 * 86400 }] })).toMatch(/field windowSeconds: must be at most 30 days/);
    expect(errorOf({ history: { tiers: [{ stepSeconds: 60, points: 60 }] } })).toMatch(
      /trend #1 \(id "slab-cache-growth"\): its window \(with the baseline\) spans 21600 s, more than the history keeps \(3540 s\)/,
    );
  });

  it('tiers out of order, a rise no series can meet, an id used twice', () => {
    expect(
      errorOf({
        history: {
          tiers: [
            { stepSeconds: 600, points: 10 },
            { stepSeconds: 60, points: 10 },
          ],
        },
      }),
    ).toMatch(/field history\.tiers: tiers go from the finest step/);
    expect(errorOf({ trends: [{ id: 'slab-cache-growth', minRiseShare: 0.9, maxFallShare: 0.2 }] })).toMatch(/minRiseShare \+ maxFallShare is above 1/);
    // Overrides merge by id, so only a whole document can name an id twice.
    const twice = { ...shipped, trends: [shipped.trends[0], shipped.trends[0]] };
    expect(() => compileWatchConfig(twice, 'in test.yaml')).toThrow(/trend #2 \(id "slab-cache-growth"\): the id is used twice/);
  });
});
