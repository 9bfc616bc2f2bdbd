export type StackInputFormat = 'folded' | 'perf-script';

const foldedLine = /^\S.* \d+(\.\d+)?\r?$/;

/**
 * Tells folded stacks from `perf script` text by their first lines: every folded line ends in a
 * count, while perf script has indented frame lines under each sample header.
 */
export function detectStackInput(head: string): StackInputFormat {
  const lines = head
    .split('\n')
    .slice(0, -1) // the last piece may be cut mid-line
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .slice(0, 5);
  if (lines.length === 0) {
    const single = head.trim();
    return single !== '' && foldedLine.test(single) ? 'folded' : 'perf-script';
  }
  return lines.every((l) => foldedLine.test(l)) ? 'folded' : 'perf-script';
}
