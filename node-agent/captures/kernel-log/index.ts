import { readFileSync } from 'node:fs';
import { type HungTask, hungTasks } from '../../patterns/kernel-log/hung-tasks.js';
import { oomVictims } from '../../patterns/kernel-log/oom-victims.js';
import type { Workload, WorkloadResolver } from '../../engine/workload.js';
import { parseKmsg } from '../../engine/kmsg-record.js';
import type { CaptureModule } from '../../engine/capture.js';
import { analyzeKernelLog } from './analyze.js';
import { readKernelLog } from '../../engine/kmsg-reader.js';
import { parseKernelLog, type KernelLogRaw, type ParsedKernelLog } from './parse.js';
import { loadRulesFile, shippedRulesFile, type KernelLogRule } from '../../patterns/kernel-log/rules.js';

/**
 * The pod of each hung task still running under its pid and name: a pid from an old record may
 * belong to another process by now (the kernel's comm is the task name cut to 15 bytes).
 */
function taskWorkloads(tasks: HungTask[], workloads: WorkloadResolver): Record<string, Workload> {
  const named: Record<string, Workload> = {};
  for (const task of tasks) {
    let comm: string;
    try {
      comm = readFileSync(`/proc/${task.pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    const workload = comm === task.task.slice(0, 15) ? workloads.ofPid(task.pid) : undefined;
    if (workload) named[task.pid] = workload;
  }
  return named;
}

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
      const records = parseKmsg(result.text);
      const kernelRecords = records.filter((r) => r.facility === 0);
      const memcgs = new Set(oomVictims(kernelRecords).map((v) => v.memcg));
      return {
        workloads: Object.fromEntries([...memcgs].map((memcg) => [memcg, ctx.workloads.ofCgroupPath(memcg)])),
        taskWorkloads: taskWorkloads(hungTasks(kernelRecords), ctx.workloads),
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
