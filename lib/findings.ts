import type { Finding, FindingPod, PodOwners, Severity } from '../api/v1alpha1/finding.js';

export const severityRank: Record<Severity, number> = { critical: 3, warning: 2, info: 1 };

/** Most severe first, then by pattern, then by title. */
export function sortFindings<T extends Finding>(findings: T[]): T[] {
  return [...findings].sort(
    (a, b) => severityRank[b.severity] - severityRank[a.severity] || a.pattern.localeCompare(b.pattern) || a.title.localeCompare(b.title),
  );
}

/** Human-readable bytes: 1536 -> "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Evidence lines are capped in number and length to keep statuses small. */
export function evidence(lines: string[], max = 10): string[] {
  return lines.slice(0, max).map((line) => (line.length > 500 ? `${line.slice(0, 497)}...` : line));
}

/** Microseconds as milliseconds for evidence: whole above 10 ms, one decimal below. */
export function ms(us: number): string {
  return us >= 10_000 ? `${Math.round(us / 1000)} ms` : `${(us / 1000).toFixed(1)} ms`;
}

/** One node's pods as a merged finding counts them: how many, and their owners, most pods first (at most 10). */
export function podOwnersOf(pods: readonly FindingPod[]): PodOwners {
  const byOwner = new Map<string, { namespace: string; owner: string; pods: number }>();
  for (const pod of pods) {
    if (!pod.owner) continue;
    const key = `${pod.namespace}\0${pod.owner}`;
    const entry = byOwner.get(key) ?? { namespace: pod.namespace, owner: pod.owner, pods: 0 };
    entry.pods += 1;
    byOwner.set(key, entry);
  }
  const owners = [...byOwner.values()].sort((a, b) => b.pods - a.pods || (`${a.namespace}/${a.owner}` < `${b.namespace}/${b.owner}` ? -1 : 1));
  return { count: pods.length, owners: owners.slice(0, 10) };
}
