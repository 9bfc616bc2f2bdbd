import { parseArgs } from 'node:util';
import { maxInvestigationDurationSeconds } from '../../api/v1alpha1/investigation.js';
import { parseDurationSeconds } from '../../lib/duration.js';
import { capturesFromOptions, defaultCaptures } from '../capture-options.js';
import { UsageError, type Command } from '../command.js';
import { investigateLocally } from '../local-investigation.js';

const usage = `Run kernel captures and report findings.

On this machine (no cluster needed):
  ksleuth investigate --local [--capture a,b,...] [--duration 30s] [--out DIR] [--json]

Options:
  --capture LIST     captures to run (default: ${defaultCaptures.join(',')});
                     any of kmalloc, slab, memory, cpu-profile, ftrace, io-latency, tcp,
                     kernel-log, bundle, bpftrace
  --set C.P=V        a capture parameter, e.g. --set cpu-profile.frequencyHz=199,
                     --set ftrace.events=block:block_rq_issue,block:block_rq_complete,
                     --set bpftrace.program=@prog.bt (repeatable)
  --duration D       how long to capture: 30s, 2m (default 30s, at most ${maxInvestigationDurationSeconds / 60}m)
  --out DIR          where to write artifacts (default ./ksleuth-<time>)
  --json             print a JSON report instead of tables`;

export const investigate: Command = {
  summary: 'Run kernel captures and report findings (--local: on this machine)',
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        local: { type: 'boolean' },
        capture: { type: 'string', multiple: true },
        set: { type: 'string', multiple: true },
        duration: { type: 'string', default: '30s' },
        out: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      strict: true,
    });
    let durationSeconds: number;
    try {
      durationSeconds = Math.round(parseDurationSeconds(values.duration));
    } catch (error) {
      throw new UsageError(`--duration: ${(error as Error).message}`);
    }
    if (durationSeconds < 1 || durationSeconds > maxInvestigationDurationSeconds) {
      throw new UsageError(`--duration must be between 1s and ${maxInvestigationDurationSeconds}s`);
    }
    const captures = capturesFromOptions(values.capture, values.set);
    if (!values.local) throw new UsageError('cluster investigations are not available yet; use --local');
    return investigateLocally({ captures, durationSeconds, outDir: values.out, json: values.json });
  },
};
