/** One distinct stack, root first, and how many samples (or how much weight) it had. */
export interface FoldedStack {
  frames: string[];
  count: number;
}

/** A line of folded input that is not "frame;frame;... count". */
export class FoldedFormatError extends Error {
  override name = 'FoldedFormatError';
  constructor(
    readonly lineNumber: number,
    line: string,
  ) {
    super(
      `line ${lineNumber} is not a folded stack: expected "frame;frame;... COUNT" (as "ksleuth flamegraph collapse" or stackcollapse-perf.pl write them), got "${line.length > 120 ? `${line.slice(0, 117)}...` : line}"`,
    );
  }
}

const foldedLine = /^(.*) (\d+(?:\.\d+)?)$/s;

/** Parses folded stacks ("proc;main;work 42" per line). Blank lines are skipped. */
export function parseFolded(text: string): FoldedStack[] {
  const stacks: FoldedStack[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    if (line.trim() === '') continue;
    const match = foldedLine.exec(line);
    if (!match) throw new FoldedFormatError(i + 1, line);
    stacks.push({ frames: match[1]!.split(';'), count: Number(match[2]) });
  }
  return stacks;
}

/** Writes stacks as folded text, sorted like stackcollapse-perf.pl's output. */
export function formatFolded(stacks: FoldedStack[]): string {
  return stacks
    .map((s) => `${s.frames.join(';')} ${s.count}\n`)
    .sort()
    .join('');
}

/** The collapser works on bytes (latin1 strings); turns such a string into text. */
export function decodeBytes(latin1: string): string {
  return Buffer.from(latin1, 'latin1').toString('utf8');
}

/** The sum of the counts of all stacks. */
export function totalCount(stacks: FoldedStack[]): number {
  let total = 0;
  for (const stack of stacks) total += stack.count;
  return total;
}
