import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CaptureParams } from '../../../api/v1alpha1/captures.js';
import { CaptureError, type CaptureContext, type CaptureModule } from '../../engine/capture.js';
import type { Requirement } from '../../engine/requirements.js';
import { findTracefs, writeTraceFile } from '../../engine/tracefs.js';
import { analyzeFtrace } from './analyze.js';
import { configureFunction, configureGraph, enableEvents, expandEvents, setBufferSize } from './configure.js';
import { readCpuStats, readTraceCapped, withPrivateInstance } from './instance.js';
import { parseFtrace, type FtraceParsed, type FtraceRaw } from './parse.js';

type FtraceParams = CaptureParams<'ftrace'>;

/** The most trace text read back; the rest is counted as truncated. */
export const maxTraceBytes = 64 * 1024 * 1024;

function requirements(params: FtraceParams): Requirement[] {
  const base: Requirement[] = [{ root: true }, { tracefs: true }, { tracefsInstances: true }];
  if (params.mode !== 'events') return [...base, { tracer: params.mode }];
  // Globs are resolved at run time against the node's tracepoints.
  return [...base, ...(params.events ?? []).filter((e) => !e.includes('*')).map((tracepoint) => ({ tracepoint }))];
}

/** The CRD checks these with CEL; the agent checks again for callers that skip the API server. */
function checkParams(params: FtraceParams): void {
  if (params.mode === 'events' && !params.events?.length) {
    throw new CaptureError('InvalidParams', 'events: events mode needs at least one entry in events (for example block:block_rq_issue)');
  }
  if (params.mode !== 'events' && !params.functions?.length) {
    throw new CaptureError('InvalidParams', 'functions: function and function_graph modes need at least one entry in functions (for example vfs_write)');
  }
}

async function traceWindow(ctx: CaptureContext<'ftrace'>, instance: string): Promise<FtraceRaw> {
  const params = ctx.params;
  await writeTraceFile(instance, 'tracing_on', '0');
  await setBufferSize(instance, params.bufferSizeKb);
  // Keep the start of the window when the buffer fills; what did not fit is counted as dropped.
  await writeTraceFile(instance, 'options/overwrite', '0');
  if (params.mode === 'events') await enableEvents(instance, expandEvents(params.events ?? [], ctx.facts.events));
  else if (params.mode === 'function') await configureFunction(instance, params.functions ?? []);
  else await configureGraph(instance, params.functions ?? [], params.maxDepth);

  const started = Date.now();
  await writeTraceFile(instance, 'tracing_on', '1');
  await sleep(Math.max(0, ctx.windowEnd.getTime() - Date.now()), undefined, { signal: ctx.signal });
  await writeTraceFile(instance, 'tracing_on', '0');
  const windowSeconds = (Date.now() - started) / 1000;

  const { text, truncated } = await readTraceCapped(join(instance, 'trace'), maxTraceBytes);
  const cpuStats = await readCpuStats(instance);
  await ctx.artifacts.write('trace.txt', text, 'text/plain');
  return { mode: params.mode, trace: text, truncated, windowSeconds, cpuStats };
}

export const ftraceCapture: CaptureModule<'ftrace', FtraceRaw, FtraceParsed> = {
  kind: 'ftrace',
  title: 'ftrace (private instance)',
  requirements,
  async run(ctx) {
    checkParams(ctx.params);
    const root = ctx.facts.tracefs ?? (await findTracefs());
    if (!root) throw new CaptureError('TracefsUnavailable', 'tracefs is not mounted: mount it with "mount -t tracefs nodev /sys/kernel/tracing"');
    return withPrivateInstance(root, 'ftrace', ctx.journal, ctx.log, (instance) => traceWindow(ctx, instance));
  },
  parse: (raw, params) => parseFtrace(raw, params),
  analyze: (parsed, params) => analyzeFtrace(parsed, params.events),
};
