import type { CaptureModule } from '../../engine/capture.js';
import { monotonicNs, runBpftrace } from '../../engine/bpftrace.js';
import { analyzeKmalloc } from './analyze.js';
import { parseKmalloc, type KmallocParsed } from './parse.js';
import { kmallocMapKeys, kmallocProgram } from './program.js';

/** The maps print once, at the end: a few MiB even with every map full. */
const maxOutputBytes = 32 * 1024 * 1024;

export const kmallocCapture: CaptureModule<'kmalloc', string, KmallocParsed> = {
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
    return result.output;
  },
  parse: (raw, params) => parseKmalloc(raw, params),
  analyze: (parsed, params) => analyzeKmalloc(parsed, params),
};
