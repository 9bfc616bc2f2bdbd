import {
  findMap,
  histogramCount,
  histogramQuantile,
  mergeHistograms,
  mergeNumbers,
  parseBpftraceOutput,
  type BpftraceOutput,
  type HistBucket,
} from '../../engine/bpftrace-output.js';
import { windowSeconds } from '../../engine/bpftrace-window.js';
import { devNumber } from './devices.js';

/** What run() returns: the bpftrace output and the names of the block devices. */
export interface IoLatencyRaw {
  output: string;
  /** Device names by "major:minor". */
  deviceNames: Record<string, string>;
}

export interface LatencyHistogram {
  count: number;
  /** Microseconds, log2 buckets. */
  histogramUs: HistBucket[];
  p50Us?: number;
  p99Us?: number;
  maxUs: number;
}

export interface DeviceLatency extends LatencyHistogram {
  /** The device name, or "major:minor" when it has none. */
  device: string;
  dev: string;
  /** Requests at or above the outlier threshold. */
  outliers: number;
}

export interface JournalLatency {
  device: string;
  dev: string;
  commits?: LatencyHistogram;
  /** The locked phase of commits. */
  locked?: LatencyHistogram;
}

export interface IoLatencyParsed {
  windowSeconds: number;
  /** Most requests first. */
  devices: DeviceLatency[];
  journals: JournalLatency[];
  malformedLines: number;
}

function histogramsByDev(output: BpftraceOutput, hist: string, max: string): Map<string, LatencyHistogram> {
  const histograms = mergeHistograms(findMap(output, hist, 'hist')?.entries ?? []);
  const maxima = mergeNumbers(findMap(output, max, 'map')?.entries ?? [], 'max');
  const result = new Map<string, LatencyHistogram>();
  for (const [key, buckets] of histograms) {
    const count = histogramCount(buckets);
    if (count === 0) continue;
    const maxUs = maxima.get(key) ?? 0;
    // A quantile is a bucket's upper bound; the slowest request bounds it better when lower.
    const quantile = (fraction: number): number | undefined => {
      const bound = histogramQuantile(buckets, fraction);
      return bound !== undefined && maxUs > 0 ? Math.min(bound, maxUs) : bound;
    };
    result.set(devNumber(Number(key)), { count, histogramUs: buckets, p50Us: quantile(0.5), p99Us: quantile(0.99), maxUs });
  }
  return result;
}

/** Parses the output of the io-latency program (program.ts). */
export function parseIoLatency(raw: IoLatencyRaw): IoLatencyParsed {
  const output = parseBpftraceOutput(raw.output);
  const name = (dev: string): string => raw.deviceNames[dev] ?? dev;
  const outliers = new Map([...mergeNumbers(findMap(output, '@io_outliers', 'map')?.entries ?? [], 'sum')].map(([k, v]) => [devNumber(Number(k)), v]));
  const devices = [...histogramsByDev(output, '@io_us', '@io_max_us')]
    .map(([dev, latency]) => ({ device: name(dev), dev, ...latency, outliers: outliers.get(dev) ?? 0 }))
    .sort((a, b) => b.count - a.count);
  const commits = histogramsByDev(output, '@commit_us', '@commit_max_us');
  const locked = histogramsByDev(output, '@locked_us', '@locked_max_us');
  const journals = [...new Set([...commits.keys(), ...locked.keys()])].sort().map((dev) => ({
    device: name(dev),
    dev,
    ...(commits.has(dev) ? { commits: commits.get(dev) } : {}),
    ...(locked.has(dev) ? { locked: locked.get(dev) } : {}),
  }));
  return { windowSeconds: windowSeconds(output), devices, journals, malformedLines: output.malformedLines };
}
