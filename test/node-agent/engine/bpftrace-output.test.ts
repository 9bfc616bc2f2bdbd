import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  addHistograms,
  describeHistogram,
  findMap,
  histogramCount,
  histogramQuantile,
  mergeNumbers,
  mergeStats,
  parseBpftraceOutput,
  scalarValue,
} from '../../../node-agent/engine/bpftrace-output.js';

const fixture = readFileSync(new URL('../../fixtures/bpftrace/every-output-kind.json', import.meta.url), 'utf8');

/** Adds up every `"key": N` inside one printed map, straight from the text. */
function sumFromText(text: string, map: string, field = ''): number {
  const line = text.split('\n').find((l) => l.includes(`"${map}"`))!;
  const pattern = field ? new RegExp(`"${field}": (\\d+)`, 'g') : /": (\d+)/g;
  return [...line.slice(line.indexOf(`"${map}"`) + map.length + 3).matchAll(pattern)].reduce((sum, m) => sum + Number(m[1]), 0);
}

describe('parseBpftraceOutput on a recorded program that prints every kind of map', () => {
  const output = parseBpftraceOutput(fixture);

  it('reads every map, the printf lines and the probe count', () => {
    expect(output.maps.map((m) => m.name).sort()).toEqual(
      [
        '@by_comm_node',
        '@by_site',
        '@bytes',
        '@calls',
        '@hist_by_comm',
        '@largest',
        '@last',
        '@mean',
        '@mean_by_comm',
        '@seconds',
        '@size',
        '@size_linear',
        '@size_stats',
        '@smallest',
      ].sort(),
    );
    expect(output.attachedProbes).toBe(4);
    expect(output.printf[0]).toBe('tracing kmalloc, one line per second');
    expect(output.printfLines).toBe(1 + scalarValue(output, '@seconds'));
    expect(output.malformedLines).toBe(0);
  });

  it('agrees with itself: maps updated by the same probe count the same events', () => {
    const calls = scalarValue(output, '@calls');
    expect(calls).toBeGreaterThan(0);
    expect(histogramCount(findMap(output, '@size', 'hist')!.entries[0]!.value)).toBe(calls);
    expect(histogramCount(findMap(output, '@size_linear', 'hist')!.entries[0]!.value)).toBe(calls);
    const stats = findMap(output, '@size_stats', 'stats')!;
    expect(stats.keyed).toBe(false);
    expect(stats.entries[0]!.value).toMatchObject({ count: calls, total: scalarValue(output, '@bytes') });
    const perSite = mergeNumbers(findMap(output, '@by_site', 'map')!.entries, 'sum');
    expect([...perSite.values()].reduce((a, b) => a + b, 0)).toBe(calls);
    const perComm = [...findMap(output, '@hist_by_comm', 'hist')!.entries].reduce((sum, e) => sum + histogramCount(e.value), 0);
    expect(perComm).toBe(calls);
  });

  it('keeps ksym() keys that print twice and adds them up', () => {
    const bySite = findMap(output, '@by_site', 'map')!;
    const keys = bySite.entries.map((e) => e.key);
    expect(new Set(keys).size).toBeLessThan(keys.length);
    expect([...mergeNumbers(bySite.entries, 'sum').values()].reduce((a, b) => a + b, 0)).toBe(sumFromText(fixture, '@by_site'));
  });

  it('tells scalar and keyed maps apart, avg from stats, tuples from histograms', () => {
    expect(findMap(output, '@mean', 'stats')).toMatchObject({ keyed: false, entries: [{ key: '', value: expect.any(Number) }] });
    const meanByComm = findMap(output, '@mean_by_comm', 'stats')!;
    expect(meanByComm.keyed).toBe(true);
    expect(meanByComm.entries.every((e) => typeof e.value === 'number')).toBe(true);
    const last = findMap(output, '@last', 'map')!;
    expect(last.entries.every((e) => Array.isArray(e.value) && typeof (e.value as unknown[])[0] === 'string')).toBe(true);
    const byCommNode = findMap(output, '@by_comm_node', 'map')!;
    expect(byCommNode.entries.every((e) => /,-?\d+$/.test(e.key))).toBe(true);
    const linear = findMap(output, '@size_linear', 'hist')!.entries[0]!.value;
    expect(linear[linear.length - 1]).toEqual({ min: 4096, count: expect.any(Number) });
    expect(findMap(output, '@size', 'map')).toBeUndefined();
  });

  it('reads what it can of a cut-off output and counts the broken line', () => {
    const cut = fixture.slice(0, fixture.indexOf('"@largest"') + 5);
    const partial = parseBpftraceOutput(cut);
    expect(partial.malformedLines).toBe(1);
    expect(scalarValue(partial, '@calls')).toBe(scalarValue(output, '@calls'));
    expect(findMap(partial, '@largest', 'map')).toBeUndefined();
  });

  it('keeps the last printing of a map printed more than once', () => {
    const twice = '{"type": "map", "data": {"@n": 1}}\n{"type": "map", "data": {"@m": 5}}\n{"type": "map", "data": {"@n": 7}}\n';
    const parsed = parseBpftraceOutput(twice);
    expect(parsed.maps.map((m) => m.name)).toEqual(['@n', '@m']);
    expect(scalarValue(parsed, '@n')).toBe(7);
    expect(parsed.mapPrints).toBe(3);
  });

  it('adds lost events', () => {
    expect(parseBpftraceOutput('{"type": "lost_events", "data": {"events": 12}}\n{"type": "lost_events", "data": {"events": 3}}').lostEvents).toBe(15);
  });
});

describe('histogram helpers', () => {
  const buckets = [
    { max: -1, count: 1 },
    { min: 0, max: 0, count: 1 },
    { min: 1, max: 1, count: 3 },
    { min: 2, max: 3, count: 90 },
    { min: 4, max: 7, count: 5 },
  ];

  it('gives quantiles as bucket upper bounds', () => {
    expect(histogramQuantile(buckets, 0.5)).toBe(3);
    expect(histogramQuantile(buckets, 0.99)).toBe(7);
    expect(histogramQuantile(buckets, 0.01)).toBe(-1);
    expect(histogramQuantile([], 0.5)).toBeUndefined();
    expect(histogramQuantile([{ min: 1024, count: 4 }], 0.99)).toBe(1024);
  });

  it('adds histograms bucket by bucket and merges stats', () => {
    expect(
      addHistograms(
        [{ min: 2, max: 3, count: 1 }],
        [
          { min: 2, max: 3, count: 2 },
          { min: 0, max: 0, count: 5 },
        ],
      ),
    ).toEqual([
      { min: 0, max: 0, count: 5 },
      { min: 2, max: 3, count: 3 },
    ]);
    const merged = mergeStats([
      { key: 'a', value: { count: 2, average: 10, total: 20 } },
      { key: 'a', value: { count: 2, average: 30, total: 60 } },
    ]);
    expect(merged.get('a')).toEqual({ count: 4, average: 20, total: 80 });
  });

  it('describes non-empty buckets', () => {
    expect(describeHistogram(buckets, 'us')).toEqual(['< 0 us: 1', '0 us: 1', '1 us: 3', '2-3 us: 90', '4-7 us: 5']);
  });
});
