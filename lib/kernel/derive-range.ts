import { compareWithinLine } from './compare.js';
import { type KernelRelease, type OsHint, parseKernelRelease } from './release.js';

/** One kernel release of a comparison, and whether the finding was seen on it. */
export interface ReleaseObservation {
  release: string;
  seen: boolean;
  os?: OsHint;
}

export type LineVerdictKind =
  /** Not seen on the earlier releases of the line, seen on every later one. */
  | 'introduced'
  /** Seen on the earlier releases, not on any later one. */
  | 'fixed'
  /** Not seen before, seen on a run of releases, not seen after. */
  | 'window'
  /** Seen on every release of the line that was looked at: no boundary to place. */
  | 'everywhere'
  /** Seen and not seen alternate: the evidence does not order. */
  | 'not-monotone';

export interface LineVerdict {
  label: string;
  line: string;
  kind: LineVerdictKind;
  statement: string;
  /** kernelVersions for this line, where one follows from the evidence. */
  range?: string;
}

export interface DerivedRange {
  /** A kernelVersions range covering every line where the finding was seen; undefined when the evidence does not allow one. */
  range?: string;
  /** What the comparison shows, in words, one sentence per line (family) that saw the finding. */
  statement: string;
  lines: LineVerdict[];
}

interface Position {
  releases: KernelRelease[];
  /** Per release, whether the finding was seen on it. */
  sightings: boolean[];
  seen: boolean;
  conflict: boolean;
}

/** Releases in words; a long list keeps its ends: "6.1.0, 6.1.1, 6.1.2, ..., 6.1.99 (100 releases)". */
function list(releases: KernelRelease[]): string {
  const texts = releases.map((r) => r.text);
  return texts.length <= 6 ? texts.join(', ') : `${texts.slice(0, 3).join(', ')}, ..., ${texts.slice(-2).join(', ')} (${texts.length} releases)`;
}

/** The x.y series after a release's: "<6.2" closes a range to the series that was looked at. */
function nextSeries(release: KernelRelease): string {
  return `${release.upstream.major}.${release.upstream.minor + 1}`;
}

function positionsOf(releases: { release: KernelRelease; seen: boolean }[]): Position[] {
  const sorted = [...releases].sort((a, b) => compareWithinLine(a.release, b.release) || a.release.text.localeCompare(b.release.text));
  const positions: Position[] = [];
  for (const entry of sorted) {
    const last = positions.at(-1);
    if (last && compareWithinLine(last.releases[0]!, entry.release) === 0) {
      last.releases.push(entry.release);
      last.sightings.push(entry.seen);
      if (last.seen !== entry.seen) last.conflict = true;
      last.seen ||= entry.seen;
    } else {
      positions.push({ releases: [entry.release], sightings: [entry.seen], seen: entry.seen, conflict: false });
    }
  }
  return positions;
}

function verdict(line: string, positions: Position[]): LineVerdict {
  const label = positions[0]!.releases[0]!.label;
  const conflict = positions.find((p) => p.conflict);
  if (conflict) {
    const seenOn = conflict.releases.filter((_, i) => conflict.sightings[i]);
    const notOn = conflict.releases.filter((_, i) => !conflict.sightings[i]);
    return {
      label,
      line,
      kind: 'not-monotone',
      statement: `${label}: cannot state a range: seen on ${list(seenOn)} but not on ${list(notOn)}, which ${label} numbers as the same build`,
    };
  }
  const seen = positions.map((p) => p.seen);
  const first = seen.indexOf(true);
  const last = seen.lastIndexOf(true);
  const runs = seen.slice(first, last + 1).every(Boolean);
  const seenReleases = positions.slice(first, last + 1).flatMap((p) => p.releases);
  if (!runs) {
    const pattern = positions.map((p) => `${p.seen ? 'seen' : 'not seen'} on ${list(p.releases)}`).join(', then ');
    return { label, line, kind: 'not-monotone', statement: `${label}: cannot state a range: ${pattern}` };
  }
  const earliestSeen = positions[first]!.releases[0]!;
  const latestSeen = positions[last]!.releases.at(-1)!;
  const before = first > 0 ? positions[first - 1]!.releases.at(-1)! : undefined;
  const after = last < positions.length - 1 ? positions[last + 1]!.releases[0]! : undefined;
  if (before && after) {
    return {
      label,
      line,
      kind: 'window',
      statement: `${label}: seen on ${earliestSeen.text} to ${latestSeen.text}, not on ${before.text} and earlier nor on ${after.text} and later`,
      range: `>=${earliestSeen.text} <${after.text}`,
    };
  }
  if (before) {
    return {
      label,
      line,
      kind: 'introduced',
      statement: `${label}: seen on ${earliestSeen.text} and later, not on ${before.text} and earlier`,
      range: `>=${earliestSeen.text} <${nextSeries(latestSeen)}`,
    };
  }
  if (after) {
    return {
      label,
      line,
      kind: 'fixed',
      statement: `${label}: seen on ${latestSeen.text} and earlier, not on ${after.text} and later`,
      range: `>=${earliestSeen.upstream.major}.${earliestSeen.upstream.minor} <${after.text}`,
    };
  }
  return {
    label,
    line,
    kind: 'everywhere',
    statement: `${label}: seen on every release looked at (${list(seenReleases)}); none without it to place a boundary`,
    range: seenReleases.map((r) => `=${r.text}`).join(' || '),
  };
}

/**
 * What a comparison across kernels shows about one finding. Within each line (the releases a
 * distribution numbers in one sequence) the releases are ordered; when the finding appears from
 * one release on, or up to one, or over one run, that is stated ("seen on X and later, not on Y
 * and earlier") with a kernelVersions range; when seen and not seen alternate it says it cannot.
 * Lines are never ordered against each other beyond the upstream version: distributions backport
 * fixes, so Debian's evidence says nothing about Ubuntu's builds of the same version. Lines where
 * it was never seen are left out. Releases that cannot be read are ignored. Pure.
 */
export function deriveKernelRange(observations: ReleaseObservation[]): DerivedRange {
  const byLine = new Map<string, { release: KernelRelease; seen: boolean }[]>();
  for (const o of observations) {
    const release = parseKernelRelease(o.release, o.os);
    if (!release) continue;
    byLine.set(release.line, [...(byLine.get(release.line) ?? []), { release, seen: o.seen }]);
  }
  const lines = [...byLine]
    .filter(([, entries]) => entries.some((e) => e.seen))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([line, entries]) => verdict(line, positionsOf(entries)));
  if (lines.length === 0) return { statement: 'not seen on any kernel that was looked at', lines };
  const statement = lines.map((l) => l.statement).join('; ');
  const broken = lines.some((l) => l.kind === 'not-monotone');
  return { ...(broken ? {} : { range: lines.map((l) => l.range!).join(' || ') }), statement, lines };
}
