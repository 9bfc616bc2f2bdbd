import type { CaptureResult } from '../api/v1alpha1/capture.js';
import type { FigureId } from '../api/v1alpha1/figures.js';

/** A node's figures, by id: what a comparison puts side by side (api/v1alpha1/figures.ts). */
export type NodeFigures = Partial<Record<FigureId, number>>;

type Summary = NonNullable<CaptureResult['summary']>;

function numberAt(summary: Summary, key: string): number | undefined {
  const value = summary[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function perSecond(summary: Summary, key: string): number | undefined {
  const value = numberAt(summary, key);
  const seconds = numberAt(summary, 'windowSeconds');
  return value !== undefined && seconds !== undefined && seconds > 0 ? Math.round((value / seconds) * 1000) / 1000 : undefined;
}

/** Where each figure comes from: the capture kind (or reproducer) and how to read its summary. */
const sources: Record<FigureId, { kinds: readonly string[]; read: (summary: Summary) => number | undefined }> = {
  'block-latency-p50-ms': { kinds: ['io-latency'], read: (s) => numberAt(s, 'p50Ms') },
  'block-latency-p99-ms': { kinds: ['io-latency'], read: (s) => numberAt(s, 'p99Ms') },
  'jbd2-commit-p50-ms': { kinds: ['io-latency'], read: (s) => numberAt(s, 'commitP50Ms') },
  'jbd2-commit-p99-ms': { kinds: ['io-latency'], read: (s) => numberAt(s, 'commitP99Ms') },
  'tcp-segments-per-second': { kinds: ['tcp'], read: (s) => perSecond(s, 'outSegs') },
  'tcp-retransmit-percent': { kinds: ['tcp'], read: (s) => numberAt(s, 'retransmitPercent') },
  'slab-growth-kib-per-second': { kinds: ['slab'], read: (s) => numberAt(s, 'growthKiBPerSecond') },
  'allocation-stalls-per-second': { kinds: ['memory'], read: (s) => perSecond(s, 'allocStall') },
  'kernel-cpu-percent': { kinds: ['cpu-profile'], read: (s) => numberAt(s, 'kernelSharePercent') },
  'reproducer-failure-percent': { kinds: ['tcp-churn', 'fs-sync', 'socket-leak', 'pod'], read: (s) => numberAt(s, 'failurePercent') },
  'reproducer-p99-ms': { kinds: ['tcp-churn', 'fs-sync'], read: (s) => numberAt(s, 'p99Ms') },
};

/**
 * The figures of one node, read from the summaries of its capture results (and its reproducer's).
 * Only results that succeeded count; when two captures of one kind ran, the first gives the figure.
 */
export function nodeFigures(results: readonly Pick<CaptureResult, 'kind' | 'state' | 'summary'>[]): NodeFigures {
  const figures: NodeFigures = {};
  for (const [id, source] of Object.entries(sources) as [FigureId, (typeof sources)[FigureId]][]) {
    for (const result of results) {
      if (result.state !== 'Succeeded' || !result.summary || !source.kinds.includes(result.kind)) continue;
      const value = source.read(result.summary);
      if (value !== undefined) {
        figures[id] = value;
        break;
      }
    }
  }
  return figures;
}
