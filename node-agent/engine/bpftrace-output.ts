import { JsonPairs, parseJsonPairs, type JsonValue } from './json-pairs.js';

/*
 * The output of `bpftrace -f json`: one JSON document a line, {"type": ..., "data": ...}.
 * Maps print as "map" (count, sum, min, max and plain values), "hist" (hist, lhist) and "stats"
 * (avg, stats); keys of multi-key maps are joined with ",". Pure: text in, data out.
 */

/** One histogram bucket; the lowest has no min (values below zero), an lhist's highest no max. */
export interface HistBucket {
  min?: number;
  max?: number;
  count: number;
}

export interface StatsValue {
  count: number;
  average: number;
  total: number;
}

/** A plain map value: a number, a string, or a tuple of them. */
export type MapValue = number | string | boolean | null | MapValue[];

export interface MapEntry<V> {
  /** The key as bpftrace prints it ("" for a map without keys). */
  key: string;
  value: V;
}

interface PrintedMapBase {
  name: string;
  /** False for a map without keys (`@x = count()`). */
  keyed: boolean;
}

export type PrintedMap =
  | (PrintedMapBase & { kind: 'map'; entries: MapEntry<MapValue>[] })
  | (PrintedMapBase & { kind: 'hist'; entries: MapEntry<HistBucket[]>[] })
  | (PrintedMapBase & { kind: 'stats'; entries: MapEntry<StatsValue | number>[] });

export interface BpftraceOutput {
  /** Each map as last printed (a program may print a map several times), in order of first print. */
  maps: PrintedMap[];
  /** How many times maps were printed in all. */
  mapPrints: number;
  /** printf() output, at most `maxPrintfLines` of it. */
  printf: string[];
  printfLines: number;
  attachedProbes?: number;
  lostEvents: number;
  /** Lines that were not JSON (a cut-off last line, or text bpftrace printed itself). */
  malformedLines: number;
}

export const maxPrintfLines = 1000;

function toMapValue(value: JsonValue): MapValue {
  if (value instanceof JsonPairs) return JSON.stringify(Object.fromEntries(value.pairs));
  if (Array.isArray(value)) return value.map(toMapValue);
  return value;
}

function toBuckets(value: JsonValue): HistBucket[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((bucket) => {
    if (!(bucket instanceof JsonPairs)) return [];
    const count = bucket.get('count');
    const min = bucket.get('min');
    const max = bucket.get('max');
    return [{ ...(typeof min === 'number' ? { min } : {}), ...(typeof max === 'number' ? { max } : {}), count: typeof count === 'number' ? count : 0 }];
  });
}

function asStats(value: JsonValue): StatsValue | undefined {
  if (!(value instanceof JsonPairs)) return undefined;
  const keys = value.keys().sort().join(',');
  const [count, average, total] = [value.get('count'), value.get('average'), value.get('total')];
  if (keys !== 'average,count,total' || typeof count !== 'number' || typeof average !== 'number' || typeof total !== 'number') return undefined;
  return { count, average, total };
}

function readMap(kind: string, name: string, data: JsonValue): PrintedMap | undefined {
  if (kind === 'hist') {
    if (data instanceof JsonPairs) return { name, kind, keyed: true, entries: data.pairs.map(([key, v]) => ({ key, value: toBuckets(v) })) };
    return { name, kind, keyed: false, entries: [{ key: '', value: toBuckets(data) }] };
  }
  if (kind === 'stats') {
    const scalar = asStats(data);
    if (scalar) return { name, kind, keyed: false, entries: [{ key: '', value: scalar }] };
    if (typeof data === 'number') return { name, kind, keyed: false, entries: [{ key: '', value: data }] };
    if (!(data instanceof JsonPairs)) return undefined;
    return {
      name,
      kind,
      keyed: true,
      entries: data.pairs.flatMap(([key, v]) => {
        const value = typeof v === 'number' ? v : asStats(v);
        return value === undefined ? [] : [{ key, value }];
      }),
    };
  }
  if (data instanceof JsonPairs) return { name, kind: 'map', keyed: true, entries: data.pairs.map(([key, v]) => ({ key, value: toMapValue(v) })) };
  return { name, kind: 'map', keyed: false, entries: [{ key: '', value: toMapValue(data) }] };
}

/** Parses everything bpftrace printed to stdout with `-f json`. */
export function parseBpftraceOutput(text: string): BpftraceOutput {
  const maps = new Map<string, PrintedMap>();
  const out: BpftraceOutput = { maps: [], mapPrints: 0, printf: [], printfLines: 0, lostEvents: 0, malformedLines: 0 };
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let doc: JsonValue;
    try {
      doc = parseJsonPairs(line);
    } catch {
      out.malformedLines++;
      continue;
    }
    if (!(doc instanceof JsonPairs)) {
      out.malformedLines++;
      continue;
    }
    const type = doc.get('type');
    const data = doc.get('data');
    if (type === 'map' || type === 'hist' || type === 'stats') {
      if (!(data instanceof JsonPairs)) continue;
      for (const [name, value] of data.pairs) {
        const map = readMap(type, name, value);
        if (!map) continue;
        out.mapPrints++;
        // Map.set keeps a re-printed map in the place where it was first printed.
        maps.set(name, map);
      }
    } else if (type === 'printf' || type === 'time' || type === 'join' || type === 'cat' || type === 'syscall') {
      const printed = typeof data === 'string' ? data : JSON.stringify(data);
      for (const part of printed.replace(/\n$/, '').split('\n')) {
        out.printfLines++;
        if (out.printf.length < maxPrintfLines) out.printf.push(part);
      }
    } else if (type === 'attached_probes' && data instanceof JsonPairs) {
      const probes = data.get('probes');
      if (typeof probes === 'number') out.attachedProbes = probes;
    } else if (type === 'lost_events' && data instanceof JsonPairs) {
      const events = data.get('events');
      if (typeof events === 'number') out.lostEvents += events;
    }
  }
  out.maps = [...maps.values()];
  return out;
}

export function findMap<K extends PrintedMap['kind']>(output: BpftraceOutput, name: string, kind: K): Extract<PrintedMap, { kind: K }> | undefined {
  const map = output.maps.find((m) => m.name === name);
  return map?.kind === kind ? (map as Extract<PrintedMap, { kind: K }>) : undefined;
}

/** A map's value without keys, as a number (0 when absent or not a number). */
export function scalarValue(output: BpftraceOutput, name: string): number {
  const value = findMap(output, name, 'map')?.entries[0]?.value;
  return typeof value === 'number' ? value : 0;
}

/** How entries that print under the same key are combined. */
export type Combine = 'sum' | 'max' | 'min';

/**
 * Merges entries with the same printed key (ksym() keys of different addresses in one function),
 * combining numbers with `combine`.
 */
export function mergeNumbers(entries: MapEntry<MapValue>[], combine: Combine): Map<string, number> {
  const merged = new Map<string, number>();
  for (const { key, value } of entries) {
    if (typeof value !== 'number') continue;
    const prior = merged.get(key);
    merged.set(key, prior === undefined ? value : combine === 'sum' ? prior + value : combine === 'max' ? Math.max(prior, value) : Math.min(prior, value));
  }
  return merged;
}

/** Merges stats() entries with the same printed key: counts and totals add up. */
export function mergeStats(entries: MapEntry<StatsValue | number>[]): Map<string, StatsValue> {
  const merged = new Map<string, StatsValue>();
  for (const { key, value } of entries) {
    if (typeof value === 'number') continue;
    const prior = merged.get(key) ?? { count: 0, average: 0, total: 0 };
    const count = prior.count + value.count;
    const total = prior.total + value.total;
    merged.set(key, { count, total, average: count > 0 ? Math.round(total / count) : 0 });
  }
  return merged;
}

/** Merges histograms with the same printed key bucket by bucket. */
export function mergeHistograms(entries: MapEntry<HistBucket[]>[]): Map<string, HistBucket[]> {
  const merged = new Map<string, HistBucket[]>();
  for (const { key, value } of entries) merged.set(key, addHistograms(merged.get(key) ?? [], value));
  return merged;
}

export function addHistograms(a: HistBucket[], b: HistBucket[]): HistBucket[] {
  const byRange = new Map<string, HistBucket>();
  for (const bucket of [...a, ...b]) {
    const range = `${bucket.min ?? '-'}:${bucket.max ?? '+'}`;
    const prior = byRange.get(range);
    byRange.set(range, prior ? { ...prior, count: prior.count + bucket.count } : { ...bucket });
  }
  return [...byRange.values()].sort((x, y) => (x.min ?? -Infinity) - (y.min ?? -Infinity));
}

export function histogramCount(buckets: HistBucket[]): number {
  return buckets.reduce((sum, b) => sum + b.count, 0);
}

/**
 * The value below which `fraction` of the samples fall, as the upper bound of the bucket that
 * holds it (a histogram only knows buckets). The open top bucket reports its lower bound.
 */
export function histogramQuantile(buckets: HistBucket[], fraction: number): number | undefined {
  const total = histogramCount(buckets);
  if (total === 0) return undefined;
  const target = Math.ceil(total * fraction);
  let seen = 0;
  for (const bucket of buckets) {
    seen += bucket.count;
    if (seen >= target && bucket.count > 0) return bucket.max ?? bucket.min ?? 0;
  }
  const last = buckets[buckets.length - 1]!;
  return last.max ?? last.min ?? 0;
}

/** "[64, 128): 12" lines for evidence, skipping empty buckets. */
export function describeHistogram(buckets: HistBucket[], unit: string): string[] {
  return buckets
    .filter((b) => b.count > 0)
    .map(
      (b) => `${b.min === undefined ? `< 0` : b.max === undefined ? `>= ${b.min}` : b.min === b.max ? `${b.min}` : `${b.min}-${b.max}`} ${unit}: ${b.count}`,
    );
}
