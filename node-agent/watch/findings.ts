import type { Finding } from '../../api/v1alpha1/finding.js';
import type { WatchConditionType } from '../../api/v1alpha1/node-conditions.js';
import type { WatchFinding } from '../../api/v1alpha1/node.js';
import { formatTime } from '../../lib/conditions.js';
import { evidence, severityRank } from '../../lib/findings.js';
import type { WatchConfig } from './config.js';

/** What happened to a finding: the watch tells its listeners (the CLI, the agent's reporter). */
export type FindingChangeKind = 'raised' | 'repeated' | 'updated' | 'resolved';

export interface FindingChange {
  kind: FindingChangeKind;
  finding: WatchFinding;
  /** For repeated kernel-log findings: the records of this batch. */
  records?: number;
  /** For updated trends: the severity changed. */
  severityChanged?: boolean;
}

export interface Reported {
  /** The rule or trend that reported it. */
  rule: string;
  condition?: WatchConditionType;
  finding: Finding;
}

/**
 * The watch's active findings. Kernel-log findings are kept by pattern (and condition): a
 * transient one (no condition) until transientSeconds after it was last seen, a permanent one
 * until the node reboots. A trend's finding is kept while the trend holds and resolved after
 * resolveAfter evaluations in a row that no longer show it. Bounded by the number of patterns,
 * conditions and trends.
 */
export class ActiveFindings {
  private readonly byId = new Map<string, WatchFinding>();
  private readonly misses = new Map<string, number>();

  constructor(
    private readonly config: WatchConfig['findings'],
    private readonly now: () => number = Date.now,
  ) {}

  static kernelLogId(pattern: string, condition?: string): string {
    return `kernel-log/${pattern}${condition ? `/${condition}` : ''}`;
  }

  static trendId(trend: string): string {
    return `trend/${trend}`;
  }

  private stored(id: string, source: WatchFinding['source'], reported: Reported, previous: WatchFinding | undefined, count: number): WatchFinding {
    const { capture: _capture, ...finding } = reported.finding;
    const time = formatTime(new Date(this.now()));
    return {
      ...finding,
      evidence: evidence(finding.evidence, this.config.maxEvidence),
      id,
      source,
      rule: reported.rule,
      ...(reported.condition ? { condition: reported.condition } : {}),
      firstTime: previous?.firstTime ?? time,
      lastTime: time,
      count,
    };
  }

  /** Records that matched the kernel-log rules of one pattern (and condition). */
  kernelLog(reported: Reported, records: number): FindingChange {
    const id = ActiveFindings.kernelLogId(reported.finding.pattern, reported.condition);
    const previous = this.byId.get(id);
    const next = this.stored(id, 'kernel-log', reported, previous, (previous?.count ?? 0) + records);
    // The worst severity seen stays: a later, milder record does not make the problem milder.
    if (previous && severityRank[previous.severity] > severityRank[next.severity]) next.severity = previous.severity;
    this.byId.set(id, next);
    return { kind: previous ? 'repeated' : 'raised', finding: next, records };
  }

  /** The latest evaluation of a trend: its finding when it holds, undefined when it does not. */
  trend(trendId: string, reported: Reported | undefined): FindingChange | undefined {
    const id = ActiveFindings.trendId(trendId);
    const previous = this.byId.get(id);
    if (!reported) {
      if (!previous) return undefined;
      const misses = (this.misses.get(id) ?? 0) + 1;
      if (misses < this.config.resolveAfter) {
        this.misses.set(id, misses);
        return undefined;
      }
      this.misses.delete(id);
      this.byId.delete(id);
      return { kind: 'resolved', finding: { ...previous, lastTime: formatTime(new Date(this.now())) } };
    }
    this.misses.delete(id);
    const next = this.stored(id, 'trend', reported, previous, (previous?.count ?? 0) + 1);
    this.byId.set(id, next);
    if (!previous) return { kind: 'raised', finding: next };
    return { kind: 'updated', finding: next, severityChanged: previous.severity !== next.severity };
  }

  /** Resolves transient kernel-log findings not seen for transientSeconds. */
  expire(): FindingChange[] {
    const cutoff = this.now() - this.config.transientSeconds * 1000;
    const changes: FindingChange[] = [];
    for (const [id, finding] of this.byId) {
      if (finding.source !== 'kernel-log' || finding.condition || Date.parse(finding.lastTime) >= cutoff) continue;
      this.byId.delete(id);
      changes.push({ kind: 'resolved', finding });
    }
    return changes;
  }

  /** The node rebooted: permanent kernel-log problems were of the old kernel. */
  rebooted(): FindingChange[] {
    const changes: FindingChange[] = [];
    for (const [id, finding] of this.byId) {
      if (finding.source !== 'kernel-log' || !finding.condition) continue;
      this.byId.delete(id);
      changes.push({ kind: 'resolved', finding });
    }
    return changes;
  }

  /** Every active finding, most severe first, then the most recently seen. */
  all(): WatchFinding[] {
    return [...this.byId.values()].sort(
      (a, b) => severityRank[b.severity] - severityRank[a.severity] || b.lastTime.localeCompare(a.lastTime) || a.id.localeCompare(b.id),
    );
  }

  /** What the KernelNode lists: at most maxActive of all(). */
  listed(): WatchFinding[] {
    return this.all().slice(0, this.config.maxActive);
  }

  /** Conditions that active findings hold True, with the finding that holds each (the most severe). */
  conditions(): Map<WatchConditionType, WatchFinding> {
    const held = new Map<WatchConditionType, WatchFinding>();
    for (const finding of this.all()) if (finding.condition && !held.has(finding.condition)) held.set(finding.condition, finding);
    return held;
  }

  restore(findings: WatchFinding[]): void {
    for (const finding of findings) this.byId.set(finding.id, finding);
  }
}
