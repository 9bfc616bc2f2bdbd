import { finishedCapturePhases, type CapturePhase } from '../../api/v1alpha1/capture.js';
import type { AggregatedFinding, Finding, Severity } from '../../api/v1alpha1/finding.js';
import type { CaptureCounts, KernelInvestigationSpec, KernelInvestigationStatus } from '../../api/v1alpha1/investigation.js';
import type { KernelCapture } from '../../api/v1alpha1/resources.js';
import { severityRank, sortFindings } from '../../lib/findings.js';
import { kernelRangesOf } from './kernel-ranges.js';

/** Bounds that keep the parent small however many nodes take part. */
export const limits = {
  findings: 64,
  exampleNodes: 5,
  evidenceLines: 6,
  evidenceChars: 256,
  groups: 64,
};

export interface NodeInfo {
  kernelVersion?: string;
  /** Node.status.nodeInfo.osImage: tells some kernels apart (Container-Optimized OS, Bottlerocket). */
  osImage?: string;
  labels?: Record<string, string>;
}

export interface Aggregate {
  captures: CaptureCounts;
  reported: number;
  findings: AggregatedFinding[];
  findingCount: number;
  highestSeverity: Severity | 'none';
  comparison?: KernelInvestigationStatus['comparison'];
  /** Every child has finished (or the deadline passed). */
  finished: boolean;
  timedOutNodes: string[];
}

/** A child's phase as the parent counts it: past the deadline, an unfinished child is timed out. */
export function effectivePhase(child: KernelCapture, deadlinePassed: boolean): CapturePhase {
  const phase = child.status?.phase ?? 'Pending';
  if (finishedCapturePhases.includes(phase)) return phase;
  return deadlinePassed ? 'TimedOut' : phase;
}

function clip(line: string): string {
  return line.length > limits.evidenceChars ? `${line.slice(0, limits.evidenceChars - 3)}...` : line;
}

interface Merge {
  finding: Finding;
  nodes: string[];
  evidence: string[];
}

/** Merges the nodes' findings by pattern and capture: worst severity, affected-node count, a few examples. */
export function mergeFindings(children: KernelCapture[]): { findings: AggregatedFinding[]; total: number } {
  const merged = new Map<string, Merge>();
  for (const child of [...children].sort((a, b) => a.spec.nodeName.localeCompare(b.spec.nodeName))) {
    const node = child.spec.nodeName;
    for (const finding of child.status?.findings ?? []) {
      const key = `${finding.pattern}/${finding.capture ?? ''}`;
      const entry = merged.get(key);
      if (!entry) {
        merged.set(key, { finding, nodes: [node], evidence: finding.evidence.slice(0, 3).map((e) => clip(`${node}: ${e}`)) });
        continue;
      }
      if (!entry.nodes.includes(node)) entry.nodes.push(node);
      if (severityRank[finding.severity] > severityRank[entry.finding.severity]) {
        entry.finding = { ...finding, suggestedMitigation: finding.suggestedMitigation ?? entry.finding.suggestedMitigation };
      }
      if (entry.evidence.length < limits.evidenceLines && entry.nodes.length <= limits.exampleNodes) {
        entry.evidence.push(...finding.evidence.slice(0, 1).map((e) => clip(`${node}: ${e}`)));
      }
    }
  }
  const all = sortFindings(
    [...merged.values()].map(({ finding, nodes, evidence }) => ({
      ...finding,
      evidence: evidence.slice(0, limits.evidenceLines),
      nodes: { count: nodes.length, examples: nodes.slice(0, limits.exampleNodes) },
    })),
  ).sort((a, b) => severityRank[b.severity] - severityRank[a.severity] || b.nodes.count - a.nodes.count);
  return { findings: all.slice(0, limits.findings), total: all.length };
}

function compare(
  by: KernelInvestigationSpec['compareBy'],
  children: KernelCapture[],
  nodeInfo: Map<string, NodeInfo>,
  finishedPhase: (child: KernelCapture) => boolean,
): KernelInvestigationStatus['comparison'] {
  if (!by) return undefined;
  const label = by.nodeLabel;
  const groups = new Map<string, { nodes: number; reported: number; patterns: Set<string>; osImage?: string }>();
  for (const child of children) {
    const info = nodeInfo.get(child.spec.nodeName);
    const value = label ? (info?.labels?.[label] ?? '<unset>') : (child.status?.kernelVersion ?? info?.kernelVersion ?? '<unknown>');
    const group = groups.get(value) ?? { nodes: 0, reported: 0, patterns: new Set<string>() };
    group.nodes++;
    group.osImage ??= info?.osImage;
    if (finishedPhase(child)) group.reported++;
    for (const f of child.status?.findings ?? []) group.patterns.add(f.pattern);
    groups.set(value, group);
  }
  const sorted = [...groups].sort((a, b) => b[1].nodes - a[1].nodes || a[0].localeCompare(b[0]));
  const kernelRanges = label ? [] : kernelRangesOf(sorted.map(([release, g]) => ({ release, ...g })));
  return {
    by: label ?? 'kernelVersion',
    groups: sorted.slice(0, limits.groups).map(([value, g]) => ({ value, nodes: g.nodes, reported: g.reported, patterns: [...g.patterns].sort() })),
    ...(sorted.length > limits.groups ? { otherGroups: sorted.length - limits.groups } : {}),
    ...(kernelRanges.length > 0 ? { kernelRanges } : {}),
  };
}

/** The parent's view of its children at `now`. Pure. */
export function aggregate(
  spec: KernelInvestigationSpec,
  targetNodes: number,
  children: KernelCapture[],
  nodeInfo: Map<string, NodeInfo>,
  deadlinePassed: boolean,
): Aggregate {
  const captures: CaptureCounts = { pending: 0, running: 0, succeeded: 0, failed: 0, unsupported: 0, timedOut: 0 };
  const timedOutNodes: string[] = [];
  let reported = 0;
  for (const child of children) {
    const phase = effectivePhase(child, deadlinePassed);
    const key = (phase.charAt(0).toLowerCase() + phase.slice(1)) as keyof CaptureCounts;
    captures[key]++;
    if (phase === 'TimedOut') timedOutNodes.push(child.spec.nodeName);
    else if (finishedCapturePhases.includes(phase)) reported++;
  }
  // Targets whose capture was never created count as timed out once the deadline passes.
  const missing = Math.max(0, targetNodes - children.length);
  if (deadlinePassed) captures.timedOut += missing;
  else captures.pending += missing;
  const { findings, total } = mergeFindings(children);
  const highest = findings[0]?.severity ?? 'none';
  const finishedCount = reported + captures.timedOut;
  return {
    captures,
    reported,
    findings,
    findingCount: total,
    highestSeverity: highest,
    comparison: compare(spec.compareBy, children, nodeInfo, (c) => {
      const phase = c.status?.phase;
      return phase !== undefined && finishedCapturePhases.includes(phase) && phase !== 'TimedOut';
    }),
    finished: deadlinePassed || (targetNodes > 0 && finishedCount >= targetNodes),
    timedOutNodes,
  };
}
