import {
  histogramCount,
  histogramQuantile,
  mergeHistograms,
  mergeNumbers,
  mergeStats,
  type BpftraceOutput,
  type MapValue,
  type PrintedMap,
} from '../../engine/bpftrace-output.js';
import type { Summary } from '../../engine/capture.js';

/** Maps and entries named in the summary; the whole output is kept as an artifact. */
export const summaryLimits = { maps: 30, topEntries: 5 };

function show(value: MapValue): string | number {
  return typeof value === 'number' || typeof value === 'string' ? value : JSON.stringify(value);
}

function top(pairs: [string, number][]): string {
  return pairs
    .sort((a, b) => b[1] - a[1])
    .slice(0, summaryLimits.topEntries)
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
}

function summarizeMap(map: PrintedMap, summary: Summary): void {
  const name = map.name;
  if (map.kind === 'hist') {
    const merged = mergeHistograms(map.entries);
    if (!map.keyed) {
      const buckets = merged.get('') ?? [];
      summary[`${name}.count`] = histogramCount(buckets);
      const [p50, p99] = [histogramQuantile(buckets, 0.5), histogramQuantile(buckets, 0.99)];
      if (p50 !== undefined) summary[`${name}.p50`] = p50;
      if (p99 !== undefined) summary[`${name}.p99`] = p99;
      return;
    }
    summary[`${name}.keys`] = merged.size;
    summary[`${name}.top`] = top([...merged].map(([key, buckets]) => [key, histogramCount(buckets)]));
    return;
  }
  if (map.kind === 'stats') {
    if (!map.keyed) {
      const value = map.entries[0]?.value;
      if (typeof value === 'number') summary[name] = value;
      else if (value) Object.assign(summary, { [`${name}.count`]: value.count, [`${name}.average`]: value.average, [`${name}.total`]: value.total });
      return;
    }
    const stats = mergeStats(map.entries);
    const averages = map.entries.filter((e) => typeof e.value === 'number').map((e) => [e.key, e.value as number] as [string, number]);
    summary[`${name}.keys`] = stats.size || averages.length;
    summary[`${name}.top`] = top(stats.size ? [...stats].map(([key, s]) => [key, s.count]) : averages);
    return;
  }
  if (!map.keyed) {
    const value = map.entries[0]?.value;
    if (value !== undefined) summary[name] = show(value);
    return;
  }
  const numbers = mergeNumbers(map.entries, 'sum');
  summary[`${name}.keys`] = new Set(map.entries.map((e) => e.key)).size;
  if (numbers.size) summary[`${name}.top`] = top([...numbers]);
  else
    summary[`${name}.first`] = map.entries
      .slice(0, summaryLimits.topEntries)
      .map((e) => `${e.key}=${show(e.value)}`)
      .join(', ');
}

/**
 * The headline figures of a program's output, read without knowing the program: each map's
 * value, or its number of keys and its largest entries (entries under the same printed key are
 * added up: ksym() keys of one function print alike), and histograms' counts and quantiles.
 */
export function summarizeBpftrace(output: BpftraceOutput): Summary {
  const summary: Summary = { maps: output.maps.length, printfLines: output.printfLines };
  if (output.lostEvents > 0) summary.lostEvents = output.lostEvents;
  if (output.malformedLines > 0) summary.malformedOutputLines = output.malformedLines;
  for (const map of output.maps.slice(0, summaryLimits.maps)) summarizeMap(map, summary);
  return summary;
}
