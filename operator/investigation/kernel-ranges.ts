import type { KernelInvestigationStatus } from '../../api/v1alpha1/investigation.js';
import { deriveKernelRange } from '../../lib/kernel/derive-range.js';

type KernelRangeEvidence = NonNullable<NonNullable<KernelInvestigationStatus['comparison']>['kernelRanges']>[number];

/** One kernel release's group of nodes in a comparison. */
export interface KernelGroup {
  release: string;
  /** Nodes of the group that reported results: a group where none did is no evidence either way. */
  reported: number;
  patterns: ReadonlySet<string>;
  osImage?: string;
}

const maxRanges = 64;
const maxStatement = 2048;
const maxRange = 256;

/**
 * Per finding pattern, what a comparison by kernel version shows: where it is monotone within a
 * distribution, "seen on X and later, not on Y and earlier" and a kernelVersions range
 * (lib/kernel/derive-range.ts). A group counts as "seen" when any of its nodes showed the finding.
 * Pure.
 */
export function kernelRangesOf(groups: KernelGroup[]): KernelRangeEvidence[] {
  const evidence = groups.filter((g) => g.reported > 0);
  const patterns = [...new Set(evidence.flatMap((g) => [...g.patterns]))].sort().slice(0, maxRanges);
  return patterns.map((pattern) => {
    const derived = deriveKernelRange(
      evidence.map((g) => ({ release: g.release, seen: g.patterns.has(pattern), ...(g.osImage ? { os: { osImage: g.osImage } } : {}) })),
    );
    const tooLong = derived.range !== undefined && derived.range.length > maxRange;
    const statement = tooLong ? `${derived.statement} (the range is longer than kernelVersions takes)` : derived.statement;
    return {
      pattern,
      statement: statement.length > maxStatement ? `${statement.slice(0, maxStatement - 3)}...` : statement,
      ...(derived.range !== undefined && !tooLong ? { range: derived.range } : {}),
    };
  });
}
