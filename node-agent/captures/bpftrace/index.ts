import type { CaptureModule } from '../../engine/capture.js';
import { checkBpftraceProgram, exitAfter, runBpftrace } from '../../engine/bpftrace.js';
import { parseBpftraceOutput, type BpftraceOutput } from '../../engine/bpftrace-output.js';
import { summarizeBpftrace } from './summarize.js';

/** A program that prints more than this is printing per event and is stopped. */
export const maxProgramOutputBytes = 8 * 1024 * 1024;

/** The user's program with a probe that ends it when the window is over. */
export function programForWindow(program: string, remainingMs: number): string {
  return `${program}\n${exitAfter(remainingMs)}\n`;
}

export const bpftraceCapture: CaptureModule<'bpftrace', string, BpftraceOutput> = {
  kind: 'bpftrace',
  title: 'Custom bpftrace program',
  requirements: () => [{ root: true }, { tool: 'bpftrace' }],
  async run(ctx) {
    // Safe mode only: bpftrace refuses system(), signal() and other unsafe builtins without --unsafe.
    await checkBpftraceProgram(ctx, { program: programForWindow(ctx.params.program, 1000) });
    const result = await runBpftrace(ctx, {
      program: programForWindow(ctx.params.program, ctx.windowEnd.getTime() - Date.now()),
      maxOutputBytes: maxProgramOutputBytes,
      artifactName: 'output.json',
    });
    return result.output;
  },
  parse: (raw) => parseBpftraceOutput(raw),
  analyze: (parsed) => ({ summary: summarizeBpftrace(parsed), findings: [] }),
};
