import { arch, platform, version as nodeVersion } from 'node:process';
import * as prom from 'prom-client';
import { ksleuthVersion } from '../lib/version.js';

/** Label names to values; every series of a metric carries exactly the metric's label names. */
export type Labels = Readonly<Record<string, string>>;

/** The Content-Type of Prometheus text exposition format 0.0.4. */
export const prometheusContentType: string = prom.Registry.PROMETHEUS_CONTENT_TYPE;

/** Prometheus' default buckets, in seconds: fit request and reconcile latencies. */
export const defaultBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

const metricNamePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

type PromMetric = prom.Counter<string> | prom.Gauge<string> | prom.Histogram<string>;

/**
 * What the three kinds share: the label check (prom-client accepts a partial label set and
 * would expose it as a separate series; a series here always carries every label) and reading a
 * series back.
 */
abstract class Metric<P extends PromMetric> {
  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  constructor(
    readonly name: string,
    readonly labelNames: readonly string[],
    protected readonly metric: P,
  ) {}

  protected checked(labels: Labels): Labels {
    const given = Object.keys(labels);
    if (given.length === this.labelNames.length && this.labelNames.every((name) => labels[name] !== undefined)) return labels;
    const missing = this.labelNames.filter((name) => labels[name] === undefined);
    const extra = given.filter((name) => !this.labelNames.includes(name));
    throw new Error(`metric ${this.name} takes labels [${this.labelNames.join(', ')}]; missing [${missing.join(', ')}], unexpected [${extra.join(', ')}]`);
  }

  /** Drops every series (for example of a controller that no longer exists). */
  reset(): void {
    this.metric.reset();
  }

  protected async values(labels: Labels): Promise<(prom.MetricValue<string> & { metricName?: string })[]> {
    const wanted = this.checked(labels);
    const { values } = await this.metric.get();
    return values.filter((value) => this.labelNames.every((name) => String(value.labels[name]) === wanted[name]));
  }
}

/** A value that only goes up (resets to 0 when the process restarts). */
export class Counter extends Metric<prom.Counter<string>> {
  readonly type = 'counter';

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name} can only go up: inc by ${by}`);
    this.metric.inc(this.checked(labels), by);
  }

  /** The current value of one series (0 before its first increment). */
  async get(labels: Labels = {}): Promise<number> {
    return (await this.values(labels))[0]?.value ?? 0;
  }
}

/** A value that goes up and down. */
export class Gauge extends Metric<prom.Gauge<string>> {
  readonly type = 'gauge';

  set(labels: Labels, value: number): void {
    this.metric.set(this.checked(labels), value);
  }

  inc(labels: Labels = {}, by = 1): void {
    this.metric.inc(this.checked(labels), by);
  }

  dec(labels: Labels = {}, by = 1): void {
    this.metric.dec(this.checked(labels), by);
  }

  async get(labels: Labels = {}): Promise<number> {
    return (await this.values(labels))[0]?.value ?? 0;
  }
}

/** Observations counted into cumulative buckets, with their sum and count. */
export class Histogram extends Metric<prom.Histogram<string>> {
  readonly type = 'histogram';

  constructor(
    name: string,
    labelNames: readonly string[],
    metric: prom.Histogram<string>,
    readonly buckets: readonly number[],
  ) {
    super(name, labelNames, metric);
  }

  observe(labels: Labels, value: number): void {
    this.metric.observe(this.checked(labels), value);
  }

  /** Count and sum of one series, for tests and callers that want a summary. */
  async get(labels: Labels = {}): Promise<{ count: number; sum: number }> {
    const values = await this.values(labels);
    const find = (suffix: string): number => values.find((value) => value.metricName === `${this.name}${suffix}`)?.value ?? 0;
    return { count: find('_count'), sum: find('_sum') };
  }
}

type AnyMetric = Counter | Gauge | Histogram;

/** How often the event-loop delay is sampled for nodejs_eventloop_lag_*: a stall shorter than this may go unseen. */
export const eventLoopResolutionMs = 100;

/** What `ksleuth_build_info` says about the process besides the ksleuth version. */
export interface BuildInfo {
  /** The binary: `ksleuth-operator`, `ksleuth-agent`. */
  component: string;
}

/**
 * The metrics of one process, kept by prom-client and rendered in Prometheus text format 0.0.4
 * by {@link expose}. A thin layer: registering a name twice with the same type and labels returns
 * the existing metric (controllers and the runtime register independently), and every series
 * carries all of its metric's labels.
 */
export class MetricsRegistry {
  /** The prom-client registry underneath, for code that wants prom-client's own API. */
  readonly prom = new prom.Registry();
  private readonly metrics = new Map<string, AnyMetric>();
  private readonly collectors: (() => void)[] = [];

  /**
   * Adds prom-client's process and Node.js runtime metrics (CPU, RSS, heap, open file
   * descriptors, active handles and resources, event-loop lag, GC) and `ksleuth_build_info`.
   * Once per process: the runtime metrics observe the process, not this registry.
   */
  collectProcessMetrics(build: BuildInfo): void {
    // The event-loop delay histogram wakes the loop at this resolution: prom-client's 10 ms default
    // keeps an idle process busy with 100 wake-ups a second (half the node agent's idle CPU).
    prom.collectDefaultMetrics({ register: this.prom, eventLoopMonitoringPrecision: eventLoopResolutionMs });
    const info = this.gauge('ksleuth_build_info', 'Always 1; the labels say which ksleuth build runs, as which component, on which Node.js.', [
      'version',
      'component',
      'nodejs_version',
      'platform',
    ]);
    info.set({ version: ksleuthVersion, component: build.component, nodejs_version: nodeVersion, platform: `${platform}/${arch}` }, 1);
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.register('counter', name, labelNames, () => {
      const metric = new prom.Counter({ name, help, labelNames: [...labelNames], registers: [this.prom] });
      return new Counter(name, labelNames, metric);
    });
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.register('gauge', name, labelNames, () => {
      const metric = new prom.Gauge({ name, help, labelNames: [...labelNames], registers: [this.prom] });
      return new Gauge(name, labelNames, metric);
    });
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets: readonly number[] = defaultBuckets): Histogram {
    const sorted = [...buckets].filter((bound) => Number.isFinite(bound)).sort((a, b) => a - b);
    if (sorted.length === 0) throw new Error(`histogram ${name} needs at least one finite bucket`);
    return this.register('histogram', name, labelNames, () => {
      const metric = new prom.Histogram({ name, help, labelNames: [...labelNames], buckets: sorted, registers: [this.prom] });
      return new Histogram(name, labelNames, metric, sorted);
    });
  }

  /** Runs `collect` before every exposition: the place to set gauges that mirror live state. */
  onCollect(collect: () => void): void {
    this.collectors.push(collect);
  }

  /** Every metric in text exposition format 0.0.4. */
  async expose(): Promise<string> {
    for (const collect of this.collectors) {
      try {
        collect();
      } catch {
        // A broken collector must not take /metrics down with it; its gauges keep their last values.
      }
    }
    return this.prom.metrics();
  }

  private register<M extends AnyMetric>(type: M['type'], name: string, labelNames: readonly string[], create: () => M): M {
    const existing = this.metrics.get(name);
    if (existing) {
      if (existing.type !== type || existing.labelNames.join() !== labelNames.join()) {
        throw new Error(`metric ${name} is already registered as a ${existing.type} with labels [${existing.labelNames.join(', ')}]`);
      }
      return existing as M;
    }
    checkNames(name, labelNames);
    const metric = create();
    this.metrics.set(name, metric);
    return metric;
  }
}

function checkNames(name: string, labelNames: readonly string[]): void {
  if (!metricNamePattern.test(name)) throw new Error(`metric name "${name}" is invalid: use letters, digits, '_' and ':' and do not start with a digit`);
  for (const label of labelNames) {
    if (!labelNamePattern.test(label) || label.startsWith('__') || label === 'le') {
      throw new Error(`metric ${name}: label name "${label}" is invalid: use letters, digits and '_', not starting with '__', and not "le"`);
    }
  }
}
