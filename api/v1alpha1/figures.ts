import { z } from 'zod';

/**
 * The figures a comparison reports per group: one number per node, read from the summaries of
 * the node's capture results (lib/figures.ts). Stable ids: extend, do not rename. `minDifference`
 * is the smallest difference between two groups' medians worth naming (docs/comparison.md).
 */
export const figureDefinitions = {
  'block-latency-p50-ms': { unit: 'ms', minDifference: 1, description: 'Median block I/O latency (io-latency capture, all devices).' },
  'block-latency-p99-ms': { unit: 'ms', minDifference: 2, description: '99th percentile block I/O latency (io-latency capture, all devices).' },
  'jbd2-commit-p50-ms': { unit: 'ms', minDifference: 5, description: 'Median jbd2 commit time (io-latency capture, all journals).' },
  'jbd2-commit-p99-ms': { unit: 'ms', minDifference: 10, description: '99th percentile jbd2 commit time (io-latency capture, all journals).' },
  'tcp-segments-per-second': {
    unit: '/s',
    minDifference: 50,
    description: 'TCP segments sent per second (tcp capture): how much TCP traffic the node carried, what a workload or reproducer adds.',
  },
  'tcp-retransmit-percent': { unit: '%', minDifference: 0.1, description: 'Retransmitted segments per sent segment (tcp capture).' },
  'slab-growth-kib-per-second': { unit: 'KiB/s', minDifference: 16, description: 'Growth of all slab caches together (slab capture).' },
  'allocation-stalls-per-second': { unit: '/s', minDifference: 1, description: 'Direct reclaim stalls, allocstall in /proc/vmstat (memory capture).' },
  'kernel-cpu-percent': { unit: '%', minDifference: 5, description: 'Kernel share of busy CPU samples (cpu-profile capture).' },
  'reproducer-failure-percent': {
    unit: '%',
    minDifference: 1,
    description: 'Operations of the built-in reproducer that failed or timed out (spec.workload).',
  },
  'reproducer-p99-ms': {
    unit: 'ms',
    minDifference: 2,
    description: '99th percentile time of one operation of the built-in reproducer: a connection round trip (tcp-churn) or an fsync (fs-sync).',
  },
} as const;
export type FigureId = keyof typeof figureDefinitions;
export const figureIds = Object.keys(figureDefinitions) as FigureId[];

export const groupFigure = z.object({
  name: z.string().max(64).describe('The figure, for example block-latency-p99-ms.'),
  nodes: z.int().min(0).describe('How many nodes of the group gave it.'),
  median: z.number().describe('The median over those nodes.'),
  min: z.number().describe('The smallest value a node gave.'),
  max: z.number().describe('The largest value a node gave.'),
});
export type GroupFigure = z.infer<typeof groupFigure>;

export const figureDifference = z.object({
  figure: z.string().max(64).describe('The figure that differs.'),
  higher: z.string().max(256).describe('The group whose nodes all gave more.'),
  lower: z.string().max(256).describe('The group whose nodes all gave less.'),
  statement: z.string().max(1024).describe('The difference in words, with medians, ranges and node counts.'),
});
export type FigureDifference = z.infer<typeof figureDifference>;
