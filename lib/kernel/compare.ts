import type { KernelRelease, UpstreamVersion } from './release.js';

/**
 * How two versions may compare, as the range of possible signs: {lo: -1, hi: -1} is "before",
 * {lo: 0, hi: 1} "the same or later" (a Debian 6.1.0-18, upstream 6.1.something, against 6.1.0),
 * {lo: -1, hi: 1} "cannot tell".
 */
export interface Order {
  lo: -1 | 0 | 1;
  hi: -1 | 0 | 1;
}

export const unknownOrder: Order = { lo: -1, hi: 1 };

const sign = (n: number): -1 | 0 | 1 => (n < 0 ? -1 : n > 0 ? 1 : 0);
const exact = (s: -1 | 0 | 1): Order => ({ lo: s, hi: s });

/** Compares number sequences in order; with equal leading numbers the longer one is later (362.8.1.0.1 after 362.8.1). */
export function compareNumbers(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** A point between upstream releases: patch level, then the release candidate (a release after all of its candidates). */
type Point = [patch: number, rc: number];

function comparePoints(a: Point, b: Point): number {
  return a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] === b[1] ? 0 : a[1] < b[1] ? -1 : 1;
}

/**
 * Where within x.y an upstream version lies: one point, or, for a distribution that prints the
 * base it forked from, anything from that base on (its kernel carries later fixes).
 */
function span(upstream: UpstreamVersion, printedPatch: number): [Point, Point] {
  if (upstream.patch === undefined)
    return [
      [printedPatch, Infinity],
      [Infinity, Infinity],
    ];
  const point: Point = [upstream.patch, upstream.rc ?? Infinity];
  return [point, point];
}

/** How two upstream versions compare; printedPatch is the z printed where the patch level is unknown. */
export function upstreamOrder(a: UpstreamVersion, aPrinted: number, b: UpstreamVersion, bPrinted: number): Order {
  const series = a.major - b.major || a.minor - b.minor;
  if (series !== 0) return exact(sign(series));
  const [aLo, aHi] = span(a, aPrinted);
  const [bLo, bHi] = span(b, bPrinted);
  return { lo: sign(comparePoints(aLo, bHi)), hi: sign(comparePoints(aHi, bLo)) };
}

/** Within one line: the printed version, the release candidate, then the distribution's numbers. */
export function compareWithinLine(a: KernelRelease, b: KernelRelease): number {
  const rc = comparePoints([0, a.upstream.rc ?? Infinity], [0, b.upstream.rc ?? Infinity]);
  return compareNumbers(a.base, b.base) || rc || compareNumbers(a.build, b.build);
}

/**
 * Orders two kernel releases: by the distribution's own numbers within one line, and across
 * lines only by the upstream version where it decides. Two kernels of different lines based on
 * the same upstream version are not ordered (undefined): either may carry backports the other
 * lacks. Nor is a release whose upstream patch level is unknown (Debian, Ubuntu, RHEL, SUSE)
 * ordered against another line of the same x.y.
 */
export function compareReleases(a: KernelRelease, b: KernelRelease): number | undefined {
  if (a.line === b.line) return sign(compareWithinLine(a, b));
  const order = upstreamOrder(a.upstream, a.base[2], b.upstream, b.base[2]);
  return order.lo === order.hi && order.lo !== 0 ? order.lo : undefined;
}
