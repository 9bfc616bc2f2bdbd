import { describe, expect, it } from 'vitest';
import { parsePressure } from '../../../node-agent/procfs/pressure.js';
import { parseSlabinfo } from '../../../node-agent/procfs/slabinfo.js';
import { memorySample } from '../../../node-agent/watch/samplers/memory.js';
import { pressureSample } from '../../../node-agent/watch/samplers/pressure.js';
import { metricCaches, slabSample } from '../../../node-agent/watch/samplers/slab.js';
import { fixture } from '../fixtures.js';

describe('slabSample (recorded slabinfo)', () => {
  it('puts the largest caches and the total into the history, the largest ten into /metrics', () => {
    const caches = parseSlabinfo(fixture('slab', 'slabinfo-0.txt'));
    const sample = slabSample(caches, 24);
    const bytes = caches.map((c) => c.numObjs * c.objSize).sort((a, b) => b - a);
    expect(sample.series).toHaveLength(25);
    expect(sample.series[0]![1]).toBe(bytes[0]);
    expect(sample.series.at(-1)).toEqual(['slab.total', bytes.reduce((a, b) => a + b, 0)]);
    expect(sample.series.every(([name]) => /^slab\.[A-Za-z0-9_-]+(\.bytes)?$|^slab\.total$/.test(name))).toBe(true);
    expect(sample.gauges.filter((g) => g.metric === 'slabBytes')).toHaveLength(metricCaches);
  });
});

describe('memorySample (recorded buddyinfo and vmstat)', () => {
  it('gives the order-3 index of the zones with memory free, and counter rates once there is a previous reading', () => {
    const first = memorySample(fixture('memory', 'buddyinfo-start.txt'), fixture('memory', 'vmstat-start.txt'), 4096, undefined, 0);
    expect(first.sample.series.every(([name]) => name.endsWith('.fragmentation'))).toBe(true);
    expect(first.sample.series.map(([name]) => name)).toContain('memory.node0-Normal.fragmentation');
    expect(first.sample.series.map(([name]) => name)).not.toContain('memory.node0-DMA.fragmentation');
    const second = memorySample(fixture('memory', 'buddyinfo-end.txt'), fixture('memory', 'vmstat-end-derived-stalls.txt'), 4096, first.reading, 10_000);
    const rates = Object.fromEntries(second.sample.series.filter(([name]) => name.startsWith('vmstat.')));
    const delta = (name: string) => second.reading.counters[name]! - first.reading.counters[name]!;
    expect(delta('allocstall')).toBeGreaterThan(0);
    expect(rates['vmstat.allocstall.rate']).toBeCloseTo(delta('allocstall') / 10);
    expect(second.sample.counters.find((c) => c.labels.event === 'compact_stall')?.by).toBe(delta('compact_stall'));
  });
});

describe('pressureSample (recorded PSI)', () => {
  it('is the share of the interval stalled, from the growth of total', () => {
    const cpu = parsePressure(fixture('pressure', 'cpu.txt'));
    const later = { some: { ...cpu.some, totalUs: cpu.some.totalUs + 250_000 }, full: cpu.full! };
    const sample = pressureSample({ atMs: 1000, byResource: { cpu: later } }, { atMs: 0, byResource: { cpu } });
    expect(Object.fromEntries(sample.series)).toEqual({ 'pressure.cpu.some': 0.25, 'pressure.cpu.full': 0 });
    expect(pressureSample({ atMs: 0, byResource: { cpu } }, undefined).series).toEqual([]);
  });
});
