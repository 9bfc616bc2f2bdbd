import type { CaptureModule } from '../../engine/capture.js';
import { analyzeKernelLog } from './analyze.js';
import { readKmsg } from './kmsg-reader.js';
import { parseKernelLog, type KernelLogRaw, type ParsedKernelLog } from './parse.js';
import { loadRulesFile, shippedRulesFile, type KernelLogRule } from './rules.js';

/** The kernel-log capture with the given compiled rules. */
export function createKernelLogCapture(rules: KernelLogRule[]): CaptureModule<'kernel-log', KernelLogRaw, ParsedKernelLog> {
  return {
    kind: 'kernel-log',
    title: 'Kernel log rules',
    // /dev/kmsg can be read by root (CAP_SYSLOG), or by anyone when kernel.dmesg_restrict is 0.
    requirements: () => [{ file: '/dev/kmsg' }],

    async run(ctx) {
      const result = await readKmsg({
        sinceBoot: ctx.params.sinceBoot,
        maxRecords: ctx.params.maxLines,
        until: ctx.windowEnd,
        signal: ctx.signal,
      });
      const monotonicUs = Number(process.hrtime.bigint() / 1000n);
      await ctx.artifacts.write('kmsg.txt', result.text, 'text/plain');
      if (result.capped) ctx.log.warn({ maxLines: ctx.params.maxLines }, 'Stopped reading the kernel log at maxLines');
      return {
        sinceBoot: ctx.params.sinceBoot,
        text: result.text,
        capped: result.capped,
        lost: result.lost,
        clock: { wallMs: Date.now(), monotonicUs },
      };
    },

    parse: (raw) => parseKernelLog(raw),
    analyze: (parsed) => analyzeKernelLog(parsed, rules),
  };
}

// Loaded and compiled once when the agent starts: a bad rules file stops it with a message
// that names the entry.
export const kernelLogCapture = createKernelLogCapture(loadRulesFile(shippedRulesFile));
