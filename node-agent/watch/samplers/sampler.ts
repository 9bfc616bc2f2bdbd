import type { NodeMetricKey } from '../metrics.js';

export type SamplerName = 'slab' | 'memory' | 'pressure' | 'tcp';

/** What one sample gives the history and /metrics. */
export interface Sample {
  /** Values for the history, by series name. */
  series: [string, number][];
  /** Gauges whose series are replaced wholesale by these (the largest slab caches change). */
  gauges: { metric: NodeMetricKey; labels: Record<string, string>; value: number }[];
  /** Counters to increase (kernel counters mirrored as the increase since the previous sample). */
  counters: { metric: NodeMetricKey; labels: Record<string, string>; by: number }[];
}

/** One periodic reading of kernel state. */
export interface Sampler {
  readonly name: SamplerName;
  /** Why this node cannot be sampled (undefined when it can): the file it lacks and how to get it. */
  unavailable(): string | undefined;
  sample(nowMs: number): Promise<Sample> | Sample;
  /** Evidence lines about series of this sampler that showed a trend. */
  context?(series: string[]): string[];
}

export function emptySample(): Sample {
  return { series: [], gauges: [], counters: [] };
}

/** A history series name part from a kernel name: dots separate parts, so other characters become _. */
export function seriesPart(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '_');
}
