import type { CaptureModule } from '../../engine/capture.js';
import { monotonicNs, runBpftrace } from '../../engine/bpftrace.js';
import { cgroupPathsById } from '../../engine/cgroup-ids.js';
import type { Workload } from '../../engine/workload.js';
import { analyzeKmalloc } from './analyze.js';
import { cgroupIdsOf, parseKmalloc, type KmallocParsed } from './parse.js';
import { kmallocMapKeys, kmallocProgram } from './program.js';

/** The maps print once, at the end: a few MiB even with every map full. */
const maxOutputBytes = 32 * 1024 * 1024;

export interface KmallocRaw {
  /** bpftrace's JSON output. */
  output: string;
  /** Where the processes ran, by the cgroup id in the maps, named when the capture ended. */
  workloads: Record<string, Workload>;
}

export const kmallocCapture: CaptureModule<'kmalloc', KmallocRaw, KmallocParsed> = {
  kind: 'kmalloc',
  title: 'Kernel allocations (kmalloc)',
  requirements: (params) => [
    { root: true },
    { tool: 'bpftrace' },
    { tracepoint: 'kmem:kmalloc' },
    ...(params.trackOutstanding ? [{ tracepoint: 'kmem:kfree' }] : []),
  ],
  async run(ctx) {
    const result = await runBpftrace(ctx, {
      program: kmallocProgram(ctx.params),
      args: [String(monotonicNs(ctx.windowEnd))],
      mapKeysMax: kmallocMapKeys(ctx.params),
      maxOutputBytes,
      artifactName: 'bpftrace.json',
    });
    // Named right after the window, while the pods' cgroups are still there.
    const paths = await cgroupPathsById(cgroupIdsOf(parseKmalloc(result.output, ctx.params)));
    const workloads = Object.fromEntries([...paths].map(([id, path]) => [String(id), ctx.workloads.ofCgroupPath(path)]));
    return { output: result.output, workloads };
  },
  parse: (raw, params) => ({ ...parseKmalloc(raw.output, params), workloads: raw.workloads }),
  analyze: (parsed, params) => analyzeKmalloc(parsed, params),
};
