/** Label names to values; every series of a metric carries exactly the metric's label names. */
export type Labels = Readonly<Record<string, string>>;

/** The Content-Type of Prometheus text exposition format 0.0.4. */
export const prometheusContentType = 'text/plain; version=0.0.4; charset=utf-8';

const metricNamePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Prometheus' default buckets, in seconds: fit request and reconcile latencies. */
export const defaultBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

abstract class Metric<Series> {
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  protected readonly series = new Map<string, { labels: Labels; value: Series }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!metricNamePattern.test(name)) throw new Error(`metric name "${name}" is invalid: use letters, digits, '_' and ':' and do not start with a digit`);
    for (const label of labelNames) {
      if (!labelNamePattern.test(label) || label.startsWith('__') || label === 'le') {
        throw new Error(`metric ${name}: label name "${label}" is invalid: use letters, digits and '_', not starting with '__', and not "le"`);
      }
    }
  }

  protected abstract initial(): Series;

  protected entry(labels: Labels): { labels: Labels; value: Series } {
    const key = this.seriesKey(labels);
    let entry = this.series.get(key);
    if (!entry) {
      entry = { labels: { ...labels }, value: this.initial() };
      this.series.set(key, entry);
    }
    return entry;
  }

  /** Drops every series (for example of a controller that no longer exists). */
  reset(): void {
    this.series.clear();
  }

  private seriesKey(labels: Labels): string {
    const given = Object.keys(labels);
    const missing = this.labelNames.filter((name) => labels[name] === undefined);
    const extra = given.filter((name) => !this.labelNames.includes(name));
    if (missing.length > 0 || extra.length > 0) {
      throw new Error(`metric ${this.name} takes labels [${this.labelNames.join(', ')}]; missing [${missing.join(', ')}], unexpected [${extra.join(', ')}]`);
    }
    return JSON.stringify(this.labelNames.map((name) => labels[name]));
  }

  /** The text exposition lines of this metric. */
  render(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    if (this.labelNames.length === 0 && this.series.size === 0) this.entry({});
    for (const { labels, value } of this.series.values()) this.renderSeries(lines, labels, value);
    return `${lines.join('\n')}\n`;
  }

  protected abstract renderSeries(lines: string[], labels: Labels, value: Series): void;
}

/** A value that only goes up (resets to 0 when the process restarts). */
export class Counter extends Metric<number> {
  readonly type = 'counter';

  protected initial(): number {
    return 0;
  }

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name} can only go up: inc by ${by}`);
    this.entry(labels).value += by;
  }

  get(labels: Labels = {}): number {
    return this.entry(labels).value;
  }

  protected renderSeries(lines: string[], labels: Labels, value: number): void {
    lines.push(`${this.name}${formatLabels(labels)} ${formatValue(value)}`);
  }
}

/** A value that goes up and down. */
export class Gauge extends Metric<number> {
  readonly type = 'gauge';

  protected initial(): number {
    return 0;
  }

  set(labels: Labels, value: number): void {
    this.entry(labels).value = value;
  }

  inc(labels: Labels = {}, by = 1): void {
    this.entry(labels).value += by;
  }

  dec(labels: Labels = {}, by = 1): void {
    this.entry(labels).value -= by;
  }

  get(labels: Labels = {}): number {
    return this.entry(labels).value;
  }

  protected renderSeries(lines: string[], labels: Labels, value: number): void {
    lines.push(`${this.name}${formatLabels(labels)} ${formatValue(value)}`);
  }
}

interface HistogramSeries {
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into cumulative buckets, with their sum and count. */
export class Histogram extends Metric<HistogramSeries> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[] = defaultBuckets) {
    super(name, help, labelNames);
    const sorted = [...buckets].sort((a, b) => a - b).filter((b) => Number.isFinite(b));
    if (sorted.length === 0) throw new Error(`histogram ${name} needs at least one finite bucket`);
    this.buckets = sorted;
  }

  protected initial(): HistogramSeries {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  observe(labels: Labels, value: number): void {
    const series = this.entry(labels).value;
    const index = this.buckets.findIndex((bound) => value <= bound);
    if (index >= 0) series.counts[index]! += 1;
    series.sum += value;
    series.count += 1;
  }

  /** Count and sum of one series, for tests and callers that want a summary. */
  get(labels: Labels = {}): { count: number; sum: number } {
    const { count, sum } = this.entry(labels).value;
    return { count, sum };
  }

  protected renderSeries(lines: string[], labels: Labels, value: HistogramSeries): void {
    let cumulative = 0;
    this.buckets.forEach((bound, i) => {
      cumulative += value.counts[i]!;
      lines.push(`${this.name}_bucket${formatLabels({ ...labels, le: formatValue(bound) })} ${cumulative}`);
    });
    lines.push(`${this.name}_bucket${formatLabels({ ...labels, le: '+Inf' })} ${value.count}`);
    lines.push(`${this.name}_sum${formatLabels(labels)} ${formatValue(value.sum)}`);
    lines.push(`${this.name}_count${formatLabels(labels)} ${value.count}`);
  }
}

type AnyMetric = Counter | Gauge | Histogram;

/**
 * The metrics of one process, rendered in Prometheus text format 0.0.4 by {@link expose}.
 * Registering a name twice with the same type and labels returns the existing metric.
 */
export class MetricsRegistry {
  private readonly metrics = new Map<string, AnyMetric>();
  private readonly collectors: (() => void)[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.register(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.register(new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets?: readonly number[]): Histogram {
    return this.register(new Histogram(name, help, labelNames, buckets));
  }

  /** Runs `collect` before every exposition: the place to set gauges that mirror live state. */
  onCollect(collect: () => void): void {
    this.collectors.push(collect);
  }

  /** Every metric in text exposition format 0.0.4. */
  expose(): string {
    for (const collect of this.collectors) {
      try {
        collect();
      } catch {
        // A broken collector must not take /metrics down with it; its gauges keep their last values.
      }
    }
    return [...this.metrics.values()].map((metric) => metric.render()).join('');
  }

  private register<M extends AnyMetric>(metric: M): M {
    const existing = this.metrics.get(metric.name);
    if (!existing) {
      this.metrics.set(metric.name, metric);
      return metric;
    }
    if (existing.type !== metric.type || existing.labelNames.join() !== metric.labelNames.join()) {
      throw new Error(`metric ${metric.name} is already registered as a ${existing.type} with labels [${existing.labelNames.join(', ')}]`);
    }
    return existing as M;
  }
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
