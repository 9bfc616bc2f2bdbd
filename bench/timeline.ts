import { cpuSeconds, memory, processTree } from './process-stats.js';

/** One sample: when, CPU seconds used so far per component, the watched process's memory, and counters it exports. */
export interface Sample {
  at: number;
  cpu: Record<string, number>;
  rss: number;
  counters: Map<string, number>;
}

export interface TimelineOptions {
  /** Root pids of the processes to follow, by name; each is followed with its descendants. */
  components: Record<string, number>;
  /** CPU seconds of this process (the benchmark itself) under this name. */
  self?: string;
  /** The process whose resident memory is sampled. */
  memoryOf: string;
  /** Reads counters (metrics) at each sample; failures leave the previous values. */
  counters?: () => Promise<Map<string, number>>;
  intervalMs?: number;
}

/**
 * Samples CPU, memory and counters every second so that figures can be cut into phases whose
 * boundaries are only known afterwards (the last capture's end, say). Values between samples are
 * interpolated linearly.
 */
export class Timeline {
  readonly samples: Sample[] = [];
  private timer?: NodeJS.Timeout;
  private trees: Record<string, number[]> = {};
  private lastCounters = new Map<string, number>();
  private busy = false;

  private constructor(private readonly options: TimelineOptions) {}

  static async start(options: TimelineOptions): Promise<Timeline> {
    const timeline = new Timeline(options);
    for (const [name, pid] of Object.entries(options.components)) timeline.trees[name] = await processTree(pid);
    await timeline.sample();
    timeline.timer = setInterval(() => void timeline.sample(), options.intervalMs ?? 1000);
    return timeline;
  }

  async sample(): Promise<Sample | undefined> {
    if (this.busy) return undefined;
    this.busy = true;
    try {
      const at = Date.now();
      const cpu: Record<string, number> = {};
      for (const [name, pids] of Object.entries(this.trees)) cpu[name] = await cpuSeconds(pids);
      if (this.options.self) {
        const usage = process.cpuUsage();
        cpu[this.options.self] = (usage.user + usage.system) / 1e6;
      }
      const { rss } = await memory(this.trees[this.options.memoryOf] ?? []);
      this.lastCounters = (await this.options.counters?.().catch(() => undefined)) ?? this.lastCounters;
      const sample = { at, cpu, rss, counters: this.lastCounters };
      this.samples.push(sample);
      return sample;
    } finally {
      this.busy = false;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const giveUp = Date.now() + 15_000; this.busy && Date.now() < giveUp; ) await new Promise((resolve) => setTimeout(resolve, 20));
    await this.sample();
  }

  /** A value at time `at`, interpolated between the samples around it. */
  valueAt(at: number, read: (sample: Sample) => number): number {
    const after = this.samples.findIndex((s) => s.at >= at);
    if (after <= 0) return read(this.samples[Math.max(0, after)] ?? this.samples.at(-1)!);
    const a = this.samples[after - 1]!;
    const b = this.samples[after]!;
    const f = b.at === a.at ? 1 : (at - a.at) / (b.at - a.at);
    return read(a) + (read(b) - read(a)) * f;
  }

  /** How much `read` grew between two times. */
  between(from: number, to: number, read: (sample: Sample) => number): number {
    return this.valueAt(to, read) - this.valueAt(from, read);
  }

  /** The largest resident memory seen between two times. */
  peakRss(from: number, to: number): number {
    return this.atPeakRss(from, to)?.rss ?? 0;
  }

  /** The sample with the largest resident memory between two times. */
  atPeakRss(from: number, to: number): Sample | undefined {
    let peak: Sample | undefined;
    for (const s of this.samples) if (s.at >= from && s.at <= to && (!peak || s.rss > peak.rss)) peak = s;
    return peak;
  }
}

/** Prometheus text format into `name{labels}` → value (enough for counters and gauges). */
export function parsePrometheusText(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** The sum of every series of `name` whose labels contain all of `labels`. */
export function sumSeries(counters: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [series, value] of counters) {
    if (series !== name && !series.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => series.includes(`${k}="${v}"`))) sum += value;
  }
  return sum;
}
