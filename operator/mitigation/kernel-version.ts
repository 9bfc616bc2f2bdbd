/** A kernel release's leading numbers: "6.1.0-18-amd64" → [6, 1, 0]; missing parts are 0. */
export function kernelVersionNumbers(release: string): [number, number, number] | undefined {
  const match = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(release.trim());
  if (!match) return undefined;
  return [Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0)];
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

type Comparator = { op: '<' | '<=' | '>' | '>=' | '='; version: [number, number, number] };

/** A parsed kernelVersions range: alternatives (||) of comparator sets (all must hold). */
export interface KernelRange {
  text: string;
  alternatives: Comparator[][];
}

/** Parses ">=6.1.0 <6.1.50 || >=5.15.0 <5.15.120". Throws with the offending part named. */
export function parseKernelRange(text: string): KernelRange {
  const alternatives = text.split('||').map((alternative) => {
    const parts = alternative.trim().match(/(<=|>=|<|>|=)?\s*\d+(?:\.\d+){0,2}/g);
    const rest = alternative.replace(/(<=|>=|<|>|=)?\s*\d+(?:\.\d+){0,2}/g, '').trim();
    if (!parts || parts.length === 0 || rest !== '') {
      throw new Error(`kernelVersions "${text}": cannot read "${alternative.trim()}"; use comparators like ">=6.1.0 <6.1.50", alternatives joined by "||"`);
    }
    return parts.map((part) => {
      const [, op = '=', version] = /^(<=|>=|<|>|=)?\s*(.+)$/.exec(part.trim())!;
      return { op: op as Comparator['op'], version: kernelVersionNumbers(version!)! };
    });
  });
  return { text, alternatives };
}

/** Whether a kernel release lies in the range. An unreadable release is outside every range. */
export function kernelInRange(release: string, range: KernelRange): boolean {
  const version = kernelVersionNumbers(release);
  if (!version) return false;
  return range.alternatives.some((set) =>
    set.every(({ op, version: bound }) => {
      const c = compare(version, bound);
      return op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : op === '>=' ? c >= 0 : c === 0;
    }),
  );
}
