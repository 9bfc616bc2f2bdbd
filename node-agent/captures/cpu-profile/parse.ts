import { parseFolded, type FoldedStack } from '../../flamegraph/folded.js';

/** What run() hands over: the folded stacks (already collapsed while streaming) and how. */
export interface CpuProfileRaw {
  /** Folded stacks with kernel ("_[k]") and JIT ("_[j]") marks, as text. */
  folded: string;
  frequencyHz: number;
  /** perf script printed more than the cap; the last samples are missing. */
  truncated: boolean;
  /** perf script gave up on a record it could not process; the samples after it are missing. */
  stoppedEarly?: string;
}

export interface ParsedCpuProfile {
  stacks: FoldedStack[];
  frequencyHz: number;
  truncated: boolean;
  stoppedEarly?: string;
}

export function parseCpuProfile(raw: CpuProfileRaw): ParsedCpuProfile {
  return {
    stacks: parseFolded(raw.folded),
    frequencyHz: raw.frequencyHz,
    truncated: raw.truncated,
    ...(raw.stoppedEarly ? { stoppedEarly: raw.stoppedEarly } : {}),
  };
}
