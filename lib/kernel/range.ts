import { compareNumbers, type Order, unknownOrder, upstreamOrder } from './compare.js';
import { type KernelRelease, type OsHint, parseKernelRelease, type UpstreamVersion, upstreamText } from './release.js';

/**
 * Kernel-version ranges, as KernelMitigation spec.kernelVersions takes them:
 *
 *   range       = alternative *( "||" alternative )         any alternative may hold
 *   alternative = comparator *( [blanks] comparator )       every comparator must hold
 *   comparator  = [ "<" | "<=" | ">" | ">=" | "=" ] bound   no operator means "="
 *   bound       = an upstream version: 6, 6.1, 6.1.50, 6.8.0-rc3 (missing parts are 0)
 *               | a release as uname -r prints it: 6.1.0-18-amd64, 5.15.0-91-generic,
 *                 5.14.0-362.8.1.el9_3.x86_64, 6.1.79-99.164.amzn2023, 6.6.21-flatcar, 6.1.75+
 *               | a release without its flavour or architecture: 6.1.0-18, 5.14.0-362.8.1.el9_3
 *
 * An upstream-version bound orders every kernel by the upstream version it is based on. A
 * release bound orders the kernels of its distribution's line by the distribution's own numbers
 * (as many of them as the bound gives), and kernels of other lines by the upstream version only.
 * Where that cannot decide, the comparator is undecided and the kernel is not in the range:
 * Debian, Ubuntu, RHEL and SUSE print the base version they forked from (Debian's 6.1.0-18 is
 * upstream 6.1.76), so ">=6.1.50" cannot place a Debian 6.1 kernel (write ">=6.1.0-18"), and two
 * distributions' builds of one upstream version are not ordered: either may carry fixes the other
 * lacks. "6.1.0-18" without a flavour names ABI 18 of Debian or of Ubuntu's main kernel (the two
 * number their kernels alike and have not shipped the same x.y); Ubuntu's cloud kernels (ABI 1000
 * and up) and RHEL, SUSE and Amazon Linux releases need their flavour or dist tag.
 */

export const operators = ['<=', '>=', '<', '>', '='] as const;
export type Operator = (typeof operators)[number];

export interface Bound {
  text: string;
  upstream: UpstreamVersion;
  /** The z printed in the bound (where its upstream patch level is unknown, the base it forked from). */
  printedPatch: number;
  /** For a release bound: the lines whose builds its numbers order, and the release read. */
  lines?: string[];
  release?: KernelRelease;
}

export interface Comparator {
  op: Operator;
  bound: Bound;
}

export interface KernelRange {
  text: string;
  alternatives: Comparator[][];
}

/** A kernelVersions range that cannot be used; the message names the field, the part and the fix. */
export class KernelRangeError extends Error {
  readonly reason = 'InvalidKernelVersions';
  constructor(message: string) {
    super(message);
    this.name = 'KernelRangeError';
  }
}

const comparatorPattern = /\s*(<=|>=|<|>|=)?\s*([^\s<>=|]+)/y;

function parseBound(token: string): Bound | string {
  const upstreamOnly = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-rc(\d+))?$/.exec(token);
  if (upstreamOnly) {
    const [major, minor, patch] = [1, 2, 3].map((i) => Number(upstreamOnly[i] ?? 0)) as [number, number, number];
    return { text: token, upstream: { major, minor, patch, ...(upstreamOnly[4] ? { rc: Number(upstreamOnly[4]) } : {}) }, printedPatch: patch };
  }
  const abi = /^(\d+)\.(\d+)(?:\.(\d+))?-(\d+)$/.exec(token);
  if (abi) {
    if (Number(abi[4]) >= 1000) {
      return `${token} looks like an Ubuntu cloud kernel (their ABI numbers start at 1000, each cloud its own): add the flavour, for example ${token}-aws or ${token}-azure`;
    }
    const base: [number, number, number] = [Number(abi[1]), Number(abi[2]), Number(abi[3] ?? 0)];
    return {
      text: token,
      upstream: { major: base[0], minor: base[1] },
      printedPatch: base[2],
      lines: ['debian', 'ubuntu'],
      release: {
        text: token,
        family: 'debian',
        line: 'debian',
        base,
        upstream: { major: base[0], minor: base[1] },
        build: [Number(abi[4])],
        label: 'Debian or Ubuntu',
      },
    };
  }
  if (/^\d+\.\d+\.\d+-\d+(?:\.\d+)+$/.test(token)) {
    return `${token} does not say which distribution it is from: add the dist tag (5.14.0-362.8.1.el9_3 for RHEL 9, 5.10.210-201.852.amzn2 for Amazon Linux 2) or the flavour (5.14.21-150500.55.44-default for SUSE)`;
  }
  const release = parseKernelRelease(token);
  if (!release) return `${token} is not a kernel version; a bound starts with the version number, as in 6.1.50 or 6.1.0-18-amd64`;
  return { text: token, upstream: release.upstream, printedPatch: release.base[2], lines: [release.line], release };
}

/**
 * Parses a kernelVersions range. Throws KernelRangeError naming `field`, the part it cannot use
 * and how to write it.
 */
export function parseKernelRange(text: string, field = 'kernelVersions'): KernelRange {
  const fail = (problem: string): never => {
    throw new KernelRangeError(`${field} "${text}": ${problem}`);
  };
  if (text.trim() === '') fail('is empty; write comparators such as ">=6.1.0-18 <6.1.0-28", alternatives joined by "||"');
  const alternatives = text.split('||').map((alternative) => {
    const part = alternative.trim();
    if (part === '') fail('has "||" with nothing on one side; write a comparator on both sides, as in ">=6.1.0 <6.1.50 || >=6.6.0"');
    const comparators: Comparator[] = [];
    comparatorPattern.lastIndex = 0;
    let at = 0;
    while (at < part.length) {
      comparatorPattern.lastIndex = at;
      const m = comparatorPattern.exec(part);
      if (!m) fail(`cannot read "${part.slice(at).trim()}" in "${part}"; write comparators such as ">=6.1.0-18 <6.1.0-28"`);
      const bound = parseBound(m![2]!);
      if (typeof bound === 'string') fail(bound);
      comparators.push({ op: (m![1] ?? '=') as Operator, bound: bound as Bound });
      at = comparatorPattern.lastIndex;
      if (part.slice(at).trim() === '') break;
    }
    return comparators;
  });
  return { text, alternatives };
}

/** Compares only as many of the distribution's numbers as the bound gives. */
function withinLine(release: KernelRelease, bound: KernelRelease): number {
  const rc =
    (release.upstream.rc ?? Infinity) === (bound.upstream.rc ?? Infinity) ? 0 : (release.upstream.rc ?? Infinity) < (bound.upstream.rc ?? Infinity) ? -1 : 1;
  return compareNumbers(release.base, bound.base) || rc || compareNumbers(release.build.slice(0, bound.build.length), bound.build);
}

function orderAgainst(release: KernelRelease, bound: Bound): Order {
  if (bound.release && bound.lines?.includes(release.line)) {
    const c = Math.sign(withinLine(release, bound.release)) as -1 | 0 | 1;
    return { lo: c, hi: c };
  }
  const order = upstreamOrder(release.upstream, release.base[2], bound.upstream, bound.printedPatch);
  // The same upstream version built by two distributions: not ordered.
  if (bound.lines && order.lo <= 0 && order.hi >= 0) return unknownOrder;
  return order;
}

function holds(op: Operator, o: Order): boolean | undefined {
  switch (op) {
    case '<':
      return o.hi < 0 ? true : o.lo >= 0 ? false : undefined;
    case '<=':
      return o.hi <= 0 ? true : o.lo > 0 ? false : undefined;
    case '>':
      return o.lo > 0 ? true : o.hi <= 0 ? false : undefined;
    case '>=':
      return o.lo >= 0 ? true : o.hi < 0 ? false : undefined;
    case '=':
      return o.lo === 0 && o.hi === 0 ? true : o.hi < 0 || o.lo > 0 ? false : undefined;
  }
}

function whyUndecided(release: KernelRelease, c: Comparator): string {
  const bound = c.bound;
  if (!bound.release) {
    return `${release.text} is a ${release.label} kernel: its release names the ${release.label} build, not the upstream patch level (it is ${upstreamText(release.upstream)}), so "${c.op}${bound.text}" cannot place it; compare it with a ${release.label} release, as in ">=${release.text}"`;
  }
  const label = bound.release.label;
  return `${release.text} (${release.label}) is not a ${label} kernel, and both are builds of ${release.upstream.major}.${release.upstream.minor}: "${c.op}${bound.text}" orders ${label} kernels by ${label}'s own numbers and other kernels only by an upstream version that decides, so it cannot place this one`;
}

export interface RangeVerdict {
  /** undefined: the range cannot place this kernel (see reason); it is treated as outside. */
  inRange: boolean | undefined;
  reason?: string;
}

/** Whether a kernel release lies in the range, or why that cannot be told. */
export function kernelRangeVerdict(release: string, range: KernelRange, os: OsHint = {}): RangeVerdict {
  const parsed = parseKernelRelease(release, os);
  if (!parsed) return { inRange: false, reason: `"${release}" is not a kernel release` };
  let undecided: string | undefined;
  for (const alternative of range.alternatives) {
    let all: boolean | undefined = true;
    let why: string | undefined;
    for (const comparator of alternative) {
      const result = holds(comparator.op, orderAgainst(parsed, comparator.bound));
      if (result === false) {
        all = false;
        break;
      }
      if (result === undefined) {
        all = undefined;
        why ??= whyUndecided(parsed, comparator);
      }
    }
    if (all === true) return { inRange: true };
    if (all === undefined) undecided ??= why;
  }
  return undecided ? { inRange: undefined, reason: undecided } : { inRange: false };
}

/** Whether a kernel release lies in the range; one the range cannot place is outside. */
export function kernelInRange(release: string, range: KernelRange, os: OsHint = {}): boolean {
  return kernelRangeVerdict(release, range, os).inRange === true;
}
