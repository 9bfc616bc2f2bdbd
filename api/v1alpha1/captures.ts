import { z } from 'zod';
import { withCel } from '../cel.js';

/*
 * Parameters of every capture kind: safe defaults, hard caps. These schemas are both the CRD
 * schema of a capture entry and what the node agent validates before running a capture.
 */

export const kmallocParams = z
  .object({
    topN: z.int().min(1).max(100).default(20).describe('How many processes and call sites to report.'),
    trackOutstanding: z.boolean().default(true).describe('Also track allocations not freed by the end of the window, by call site.'),
    maxTrackedAllocations: z
      .int()
      .min(1024)
      .max(1048576)
      .default(65536)
      .describe('Size of the in-kernel maps (bpftrace 0.17 gives every map this many entries: about 400 B each per CPU); allocations past it are not tracked.'),
  })
  .describe('Kernel allocations by process and call site from the kmem:kmalloc/kmem:kfree tracepoints, aggregated in kernel maps.');

export const slabParams = z
  .object({
    intervalSeconds: z.int().min(1).max(300).default(5).describe('How often /proc/slabinfo is sampled.'),
    topN: z.int().min(1).max(100).default(15).describe('How many caches to report, largest growth first.'),
  })
  .describe('Per-cache growth and growth rate from /proc/slabinfo sampled over the window.');

export const memoryParams = z
  .object({
    intervalSeconds: z.int().min(1).max(300).default(5).describe('How often buddyinfo, vmstat and meminfo are sampled.'),
  })
  .describe('Fragmentation and allocation stalls from buddyinfo, pagetypeinfo, vmstat and meminfo.');

export const cpuProfileParams = z
  .object({
    frequencyHz: z.int().min(1).max(999).default(99).describe('Sampling frequency per CPU; 99 avoids lock-step with timers.'),
    topN: z.int().min(1).max(100).default(20).describe('How many kernel functions to report.'),
  })
  .describe('Perf record -e cpu-clock -a -g, folded into stacks and a flame graph.');

export const ftraceModes = ['function_graph', 'function', 'events'] as const;

export const ftraceParams = withCel(
  z.object({
    mode: z.enum(ftraceModes).default('events').describe('Function_graph (call graph with durations), function (call counts) or events (tracepoints).'),
    functions: z
      .array(
        z
          .string()
          .min(1)
          .max(128)
          .regex(/^[A-Za-z0-9_.*?[\]]+$/),
      )
      .max(32)
      .optional()
      .describe('Kernel functions (glob patterns allowed) to trace in function and function_graph modes.'),
    events: z
      .array(
        z
          .string()
          .min(3)
          .max(128)
          .regex(/^[a-z0-9_]+:[a-z0-9_*]+$/),
      )
      .max(32)
      .optional()
      .describe('Tracepoints as subsystem:event (for example block:block_rq_issue) in events mode.'),
    maxDepth: z.int().min(1).max(20).default(8).describe('Maximum call depth in function_graph mode.'),
    bufferSizeKb: z.int().min(64).max(65536).default(4096).describe('Per-CPU ring buffer size of the private tracefs instance.'),
  }),
  [
    {
      cel: "self.mode != 'events' || (has(self.events) && size(self.events) > 0)",
      message: 'events mode needs at least one entry in events (for example block:block_rq_issue)',
      fieldPath: '.events',
      holds: (p) => p.mode !== 'events' || (p.events?.length ?? 0) > 0,
    },
    {
      cel: "self.mode == 'events' || (has(self.functions) && size(self.functions) > 0)",
      message: 'function and function_graph modes need at least one entry in functions (for example vfs_write)',
      fieldPath: '.functions',
      holds: (p) => p.mode === 'events' || (p.functions?.length ?? 0) > 0,
    },
  ],
).describe('A private tracefs instance in function_graph, function or events mode; always cleaned up.');

export const ioLatencyParams = z
  .object({
    outlierThresholdMs: z.int().min(1).max(60000).default(100).describe('An I/O slower than this counts as an outlier.'),
  })
  .describe('Block and jbd2 latency histograms from tracepoints via bpftrace.');

export const tcpParams = z
  .object({
    intervalSeconds: z.int().min(1).max(300).default(5).describe('How often /proc/net/tcp and SNMP counters are sampled.'),
    closeWaitMinSockets: z.int().min(1).max(100000).default(1).describe('CLOSE_WAIT sockets with queued data needed to report a backlog.'),
  })
  .describe('CLOSE_WAIT sockets with queued data and the retransmit rate from /proc/net and tcp tracepoints.');

export const kernelLogParams = z
  .object({
    sinceBoot: z.boolean().default(true).describe('Read the whole kernel log since boot, not just the capture window.'),
    maxLines: z.int().min(100).max(200000).default(20000).describe('Stop reading after this many lines.'),
  })
  .describe('/dev/kmsg matched against the shipped kernel-log rules.');

/** What a bundle can be cleaned of before it leaves the node. */
export const redactKinds = ['addresses', 'hostnames', 'commandLines'] as const;
export type RedactKind = (typeof redactKinds)[number];

export const bundleParams = z
  .object({
    includeKernelConfig: z.boolean().default(true).describe('Include the kernel build config.'),
    includeKernelLog: z.boolean().default(true).describe('Include the kernel log since boot.'),
    redact: z
      .array(z.enum(redactKinds))
      .max(redactKinds.length)
      .default([])
      .describe(
        "Replace these with placeholders before the bundle leaves the node: addresses (IPv4, IPv6, MAC; loopback kept), hostnames (the node's names), commandLines (kernel command line values, init arguments, process names in ss). The same value gets the same placeholder throughout the bundle.",
      ),
  })
  .describe('A tar.gz with the context a kernel bug report needs.');

export const bpftraceParams = z
  .object({
    program: z.string().min(1).max(16384).describe('The bpftrace program. Aggregate in maps; per-event printf is refused above a small rate.'),
  })
  .describe('A user program; needs the chart to enable custom programs and an extra RBAC permission.');

/**
 * The capture kinds. Each has a stable id (used in results, the CLI and findings) and the field
 * name that selects it in a capture entry. Adding a kind: its params here, its module in the agent.
 */
export const captureKinds = {
  kmalloc: { field: 'kmalloc', params: kmallocParams },
  slab: { field: 'slab', params: slabParams },
  memory: { field: 'memory', params: memoryParams },
  'cpu-profile': { field: 'cpuProfile', params: cpuProfileParams },
  ftrace: { field: 'ftrace', params: ftraceParams },
  'io-latency': { field: 'ioLatency', params: ioLatencyParams },
  tcp: { field: 'tcp', params: tcpParams },
  'kernel-log': { field: 'kernelLog', params: kernelLogParams },
  bundle: { field: 'bundle', params: bundleParams },
  bpftrace: { field: 'bpftrace', params: bpftraceParams },
} as const;

export type CaptureKind = keyof typeof captureKinds;
export type CaptureParams<K extends CaptureKind> = z.infer<(typeof captureKinds)[K]['params']>;
export const captureKindIds = Object.keys(captureKinds) as CaptureKind[];

export function isCaptureKind(value: string): value is CaptureKind {
  return Object.hasOwn(captureKinds, value);
}
