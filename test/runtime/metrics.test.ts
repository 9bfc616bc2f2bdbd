import { describe, expect, it } from 'vitest';
import { ksleuthVersion } from '../../lib/version.js';
import { MetricsRegistry } from '../../runtime/metrics.js';
import { parsePrometheusText } from './promcheck.js';

describe('MetricsRegistry exposition (prom-client underneath)', () => {
  it('renders counters, gauges and histograms that the Prometheus parser reads back exactly', async () => {
    const registry = new MetricsRegistry();
    const captures = registry.gauge('ksleuth_captures', 'Captures by state.', ['state']);
    const errors = registry.counter('ksleuth_errors_total', 'Errors.\nSecond line with a \\ backslash.', ['where']);
    const _plain = registry.counter('ksleuth_plain_total', 'A counter without labels.');
    const latency = registry.histogram('ksleuth_latency_seconds', 'Latency.', ['op'], [0.1, 1, 10]);

    captures.set({ state: 'Running' }, 3);
    captures.set({ state: 'Failed' }, 0);
    errors.inc({ where: 'quote " backslash \\ newline \n end' }, 2);
    errors.inc({ where: 'plain' });
    for (const value of [0.05, 0.1, 0.5, 3, 100]) latency.observe({ op: 'list' }, value);

    const families = await parsePrometheusText(await registry.expose());
    const byName = Object.fromEntries(families.map((family) => [family.name, family]));

    expect(byName.ksleuth_captures).toMatchObject({ type: 'GAUGE', help: 'Captures by state.' });
    expect(byName.ksleuth_captures!.samples).toEqual(
      expect.arrayContaining([
        { labels: { state: 'Running' }, value: 3 },
        { labels: { state: 'Failed' }, value: 0 },
      ]),
    );
    expect(byName.ksleuth_errors_total).toMatchObject({ type: 'COUNTER', help: 'Errors.\nSecond line with a \\ backslash.' });
    expect(byName.ksleuth_errors_total!.samples).toEqual(
      expect.arrayContaining([
        { labels: { where: 'quote " backslash \\ newline \n end' }, value: 2 },
        { labels: { where: 'plain' }, value: 1 },
      ]),
    );
    expect(byName.ksleuth_plain_total!.samples).toEqual([{ labels: {}, value: 0 }]);
    expect(byName.ksleuth_latency_seconds).toMatchObject({ type: 'HISTOGRAM' });
    expect(byName.ksleuth_latency_seconds!.samples).toEqual([
      { labels: { op: 'list' }, count: 5, sum: 103.65, buckets: { '0.1': 2, '1': 3, '10': 4, '+Inf': 5 } },
    ]);
  });

  it('adds the process and Node.js runtime metrics and ksleuth_build_info, all parseable', async () => {
    const registry = new MetricsRegistry();
    registry.collectProcessMetrics({ component: 'ksleuth-test' });
    const families = await parsePrometheusText(await registry.expose());
    const byName = Object.fromEntries(families.map((family) => [family.name, family]));
    expect(byName.ksleuth_build_info!.samples).toEqual([
      {
        labels: { version: ksleuthVersion, component: 'ksleuth-test', nodejs_version: process.version, platform: `${process.platform}/${process.arch}` },
        value: 1,
      },
    ]);
    const rss = byName.process_resident_memory_bytes!.samples[0]!.value!;
    expect(rss).toBeGreaterThan(10 * 1024 * 1024);
    expect(byName.process_open_fds!.samples[0]!.value).toBeGreaterThan(2);
    expect(byName.nodejs_heap_size_used_bytes!.samples[0]!.value).toBeGreaterThan(0);
    expect(byName.nodejs_eventloop_lag_seconds).toMatchObject({ type: 'GAUGE' });
    expect(byName.nodejs_active_handles_total).toMatchObject({ type: 'GAUGE' });
  });

  it('reads a series back and resets a metric', async () => {
    const registry = new MetricsRegistry();
    const counter = registry.counter('c_total', 'C.', ['a']);
    const latency = registry.histogram('h_seconds', 'H.', ['a'], [1]);
    counter.inc({ a: 'x' }, 3);
    counter.inc({ a: 'y' });
    latency.observe({ a: 'x' }, 0.5);
    latency.observe({ a: 'x' }, 2);
    expect(await counter.get({ a: 'x' })).toBe(3);
    expect(await counter.get({ a: 'never' })).toBe(0);
    expect(await latency.get({ a: 'x' })).toEqual({ count: 2, sum: 2.5 });
    counter.reset();
    expect(await counter.get({ a: 'x' })).toBe(0);
  });

  it('runs collectors before each exposition and survives one that throws', async () => {
    const registry = new MetricsRegistry();
    const depth = registry.gauge('queue_depth', 'Depth.', ['queue']);
    let live = 1;
    registry.onCollect(() => depth.set({ queue: 'q' }, live));
    registry.onCollect(() => {
      throw new Error('broken collector');
    });
    live = 7;
    const [family] = await parsePrometheusText(await registry.expose());
    expect(family!.samples).toEqual([{ labels: { queue: 'q' }, value: 7 }]);
  });

  it('returns the same metric for the same registration and refuses a conflicting one', () => {
    const registry = new MetricsRegistry();
    const a = registry.counter('x_total', 'X.', ['a']);
    expect(registry.counter('x_total', 'X.', ['a'])).toBe(a);
    expect(() => registry.gauge('x_total', 'X.', ['a'])).toThrow(/already registered as a counter/);
    expect(() => registry.counter('x_total', 'X.', ['b'])).toThrow(/labels \[a\]/);
  });

  it('refuses bad names, wrong label sets and counters going down, naming the problem', () => {
    const registry = new MetricsRegistry();
    expect(() => registry.counter('1bad', 'x')).toThrow(/metric name "1bad" is invalid/);
    expect(() => registry.counter('ok_total', 'x', ['__reserved'])).toThrow(/label name "__reserved"/);
    expect(() => registry.histogram('h', 'x', ['le'])).toThrow(/label name "le"/);
    const counter = registry.counter('c_total', 'x', ['controller', 'result']);
    expect(() => counter.inc({ controller: 'a' })).toThrow(/missing \[result\]/);
    expect(() => counter.inc({ controller: 'a', result: 'ok', extra: 'x' })).toThrow(/unexpected \[extra\]/);
    expect(() => counter.inc({ controller: 'a', result: 'ok' }, -1)).toThrow(/can only go up/);
  });
});
