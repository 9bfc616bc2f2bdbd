import { parseFolded, type FoldedStack } from '../../flamegraph/folded.js';
import { type AttributedProcess, type ProcessGroup, processGroups } from './processes.js';

/** What run() hands over: the folded stacks (already collapsed while streaming) and how. */
export interface CpuProfileRaw {
  /** Folded stacks with kernel ("_[k]") and JIT ("_[j]") marks, as text. */
  folded: string;
  frequencyHz: number;
  /** perf script printed more than the cap; the last samples are missing. */
  truncated: boolean;
  /** perf script gave up on a record it could not process; the samples after it are missing. */
  stoppedEarly?: string;
  /** The busiest processes and those most in the kernel, with the pod and container each ran in (a recorded profile has none). */
  processes?: AttributedProcess[];
}

export interface ParsedCpuProfile {
  stacks: FoldedStack[];
  frequencyHz: number;
  truncated: boolean;
  stoppedEarly?: string;
  /** Processes by command and workload (host, pod and container). */
  processes?: ProcessGroup[];
}

export function parseCpuProfile(raw: CpuProfileRaw): ParsedCpuProfile {
  return {
    stacks: parseFolded(raw.folded),
    frequencyHz: raw.frequencyHz,
    truncated: raw.truncated,
    ...(raw.stoppedEarly ? { stoppedEarly: raw.stoppedEarly } : {}),
    ...(raw.processes ? { processes: processGroups(raw.processes) } : {}),
  };
}
