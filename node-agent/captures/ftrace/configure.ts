import { join } from 'node:path';
import { CaptureError, CaptureUnsupportedError } from '../../engine/capture.js';
import { exists, writeTraceFile } from '../../engine/tracefs.js';

/*
 * Sets up a private instance for one mode. Only files inside the instance are written: tracefs
 * files that exist only at the top level (set_graph_function and max_graph_depth on most kernels)
 * are global state and left alone.
 */

function code(error: unknown): string {
  return (error as { code?: string }).code ?? 'an error';
}

/** Events in the params ("subsystem:event", "*" allowed in the event) resolved against the node's tracepoints. */
export function expandEvents(patterns: string[], available: Set<string>): string[] {
  const expanded: string[] = [];
  patterns.forEach((pattern, i) => {
    const matcher = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^:]*')}$`);
    const matches = [...available].filter((event) => matcher.test(event)).sort();
    if (matches.length === 0) {
      throw new CaptureError(
        'EventNotFound',
        `events[${i}] "${pattern}" matches no tracepoint on this node: list them with "cat /sys/kernel/tracing/available_events"`,
      );
    }
    for (const event of matches) if (!expanded.includes(event)) expanded.push(event);
  });
  return expanded;
}

export async function setBufferSize(instance: string, bufferSizeKb: number): Promise<void> {
  await writeTraceFile(instance, 'buffer_size_kb', String(bufferSizeKb)).catch((error: unknown) => {
    throw new CaptureError(
      'BufferSizeRefused',
      `bufferSizeKb ${bufferSizeKb}: the kernel refused the per-CPU buffer size (${code(error)}); choose a smaller bufferSizeKb`,
    );
  });
}

export async function enableEvents(instance: string, events: string[]): Promise<void> {
  for (const event of events) {
    await writeTraceFile(instance, 'set_event', `${event}\n`, { append: true }).catch((error: unknown) => {
      throw new CaptureError('EventRefused', `events: the kernel refused to enable ${event} (${code(error)})`);
    });
  }
}

/** How a kernel refuses function tracing it lists (for example EPERM where a policy forbids it). */
const refusals = new Set(['EPERM', 'EACCES', 'ENODEV', 'EBUSY']);

function refused(tracer: string, file: string, error: unknown): CaptureUnsupportedError {
  return new CaptureUnsupportedError(
    'TracerRefused',
    `the ${tracer} tracer is refused by this kernel (writing ${file} in a private instance fails with ${code(error)}); ftrace events mode and bpftrace tracepoints still work`,
  );
}

async function filterFunctions(instance: string, tracer: string, file: string, functions: string[]): Promise<void> {
  for (const [i, fn] of functions.entries()) {
    await writeTraceFile(instance, file, `${fn}\n`, { append: true }).catch((error: unknown) => {
      if (refusals.has(code(error))) throw refused(tracer, file, error);
      throw new CaptureError(
        'FunctionNotFound',
        `functions[${i}] "${fn}" matches no traceable kernel function (${code(error)}): see available_filter_functions in tracefs`,
      );
    });
  }
}

/** The tracer is listed (the capture's requirements say so); a kernel that still will not switch to it refuses it. */
async function switchTracer(instance: string, tracer: string): Promise<void> {
  await writeTraceFile(instance, 'current_tracer', tracer).catch((error: unknown) => {
    throw refused(tracer, 'current_tracer', error);
  });
}

export async function configureFunction(instance: string, functions: string[]): Promise<void> {
  await filterFunctions(instance, 'function', 'set_ftrace_filter', functions);
  await switchTracer(instance, 'function');
}

/**
 * The graph starts at the given functions where the instance has its own set_graph_function;
 * otherwise the instance's set_ftrace_filter limits it to those functions (and the ones they call
 * that match). Depth is limited in the kernel where the instance has max_graph_depth, and by
 * the parser always.
 */
export async function configureGraph(instance: string, functions: string[], maxDepth: number): Promise<void> {
  const graphFile = (await exists(join(instance, 'set_graph_function'))) ? 'set_graph_function' : 'set_ftrace_filter';
  await filterFunctions(instance, 'function_graph', graphFile, functions);
  if (await exists(join(instance, 'max_graph_depth'))) await writeTraceFile(instance, 'max_graph_depth', String(maxDepth));
  await switchTracer(instance, 'function_graph');
  // Names each exit, so durations are attributed even when entries are interleaved.
  await writeTraceFile(instance, 'options/funcgraph-tail', '1').catch(() => undefined);
}
