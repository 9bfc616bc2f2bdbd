import { oomVictims } from '../../patterns/kernel-log/oom-victims.js';
import { parseKmsg } from '../../engine/kmsg-record.js';
import type { CaptureModule } from '../../engine/capture.js';
import { analyzeKernelLog } from './analyze.js';
import { readKernelLog } from '../../engine/kmsg-reader.js';
import { parseKernelLog, type KernelLogRaw, type ParsedKernelLog } from './parse.js';
import { loadRulesFile, shippedRulesFile, type KernelLogRule } from '../../patterns/kernel-log/rules.js';

/** The kernel-log capture with the given compiled rules. */
export function createKernelLogCapture(rules: KernelLogRule[]): CaptureModule<'kernel-log', KernelLogRaw, ParsedKernelLog> {
  return {
    kind: 'kernel-log',
    title: 'Kernel log rules',
    // /dev/kmsg, or syslog(2) where a container may not open the device (CAP_SYSLOG).
    requirements: () => [{ kernelLog: true }],

    async run(ctx) {
      const result = await readKernelLog({
        sinceBoot: ctx.params.sinceBoot,
        maxRecords: ctx.params.maxLines,
        until: ctx.windowEnd,
        signal: ctx.signal,
      });
      const monotonicUs = Number(process.hrtime.bigint() / 1000n);
      await ctx.artifacts.write('kmsg.txt', result.text, 'text/plain');
      if (result.source === 'syslog') ctx.log.info('Reading the kernel log through syslog(2): /dev/kmsg cannot be opened here');
      if (result.capped) ctx.log.warn({ maxLines: ctx.params.maxLines }, 'Stopped reading the kernel log at maxLines');
      // Named now: the pods of killed processes may be gone by the time anyone reads the finding.
      const memcgs = new Set(oomVictims(parseKmsg(result.text)).map((v) => v.memcg));
      return {
        workloads: Object.fromEntries([...memcgs].map((memcg) => [memcg, ctx.workloads.ofCgroupPath(memcg)])),
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
