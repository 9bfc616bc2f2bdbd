import { finishedCapturePhases, type CapturePhase } from '../../api/v1alpha1/capture.js';
import type { AggregatedFinding, Finding, PodOwners, Severity } from '../../api/v1alpha1/finding.js';
import { figureIds, type FigureId, type GroupFigure } from '../../api/v1alpha1/figures.js';
import type { CaptureCounts, KernelInvestigationSpec, KernelInvestigationStatus } from '../../api/v1alpha1/investigation.js';
import { severityRank } from '../../lib/findings.js';
import type { NodeFigures } from '../../lib/figures.js';
import type { CachedCapture } from './cached.js';
import { figureDifferences, roundFigure } from './differences.js';
import { kernelRangesOf } from './kernel-ranges.js';
import { limits } from './limits.js';

/*
 * The parent's status, kept up to date one child at a time (docs/aggregation.md). Every child
 * contributes a ChildSummary; the tally adds it to counters and removes it again, exactly, when
 * the child changes or goes away. Rendering the status reads only the counters: its cost depends
 * on the number of distinct findings and groups, not on the number of children.
 */

/** What the tally needs of a node to group its child (compareBy). */
export interface NodeInfo {
  kernelVersion?: string;
  /** Node.status.nodeInfo.osImage: tells some kernels apart (Container-Optimized OS, Bottlerocket). */
  osImage?: string;
  labels?: Record<string, string>;
}

/** What one child contributes to the parent. Immutable once made: the tally removes exactly what it added. */
export interface ChildSummary {
  readonly node: string;
  readonly phase: CapturePhase;
  /** The comparison group (compareBy value); undefined when the investigation does not compare. */
  readonly group?: string;
  /** The node's OS image, when grouping by kernel version (it tells distributions' kernels apart). */
  readonly osImage?: string;
  /** This node's most severe finding for each finding key (pattern and capture), in the order the agent reported them. */
  readonly findings: readonly Finding[];
  /** The node's figures (lib/figures.ts). */
  readonly figures?: NodeFigures;
}

/** How children are grouped for the comparison: by kernel version, by a node label, or not at all. */
export type GroupBy = { kind: 'none' } | { kind: 'kernelVersion' } | { kind: 'label'; label: string };

export function groupByOf(spec: Pick<KernelInvestigationSpec, 'compareBy'>): GroupBy {
  const by = spec.compareBy;
  if (!by) return { kind: 'none' };
  return by.nodeLabel ? { kind: 'label', label: by.nodeLabel } : { kind: 'kernelVersion' };
}

export function sameGroupBy(a: GroupBy, b: GroupBy): boolean {
  return a.kind === b.kind && (a.kind !== 'label' || a.label === (b as { label: string }).label);
}

/** The key findings are merged by across nodes. */
export function findingKey(finding: Pick<Finding, 'pattern' | 'capture'>): string {
  return `${finding.pattern}/${finding.capture ?? ''}`;
}

/** The comparison group of a node with this information: its label's value or its kernel version. */
export function groupValue(groupBy: Exclude<GroupBy, { kind: 'none' }>, info: NodeInfo | undefined, kernelVersion?: string): string {
  if (groupBy.kind === 'label') return info?.labels?.[groupBy.label] ?? '<unset>';
  return kernelVersion ?? info?.kernelVersion ?? '<unknown>';
}

const noFindings: readonly Finding[] = Object.freeze([]);

/** A child's contribution; `info` is the node's labels and kernel version, read only when grouping needs them. */
export function summarize(child: CachedCapture, groupBy: GroupBy, info: (node: string) => NodeInfo | undefined): ChildSummary {
  const node = child.spec.nodeName;
  const phase = child.status?.phase ?? 'Pending';
  let group: string | undefined;
  let osImage: string | undefined;
  if (groupBy.kind !== 'none') {
    const nodeInfo = info(node);
    group = groupValue(groupBy, nodeInfo, child.status?.kernelVersion);
    if (groupBy.kind === 'kernelVersion') osImage = nodeInfo?.osImage;
  }
  const reported = child.status?.findings;
  let findings = noFindings;
  if (reported?.length === 1) findings = reported;
  else if (reported && reported.length > 1) {
    const worst = new Map<string, Finding>();
    for (const finding of reported) {
      const key = findingKey(finding);
      const seen = worst.get(key);
      if (!seen || severityRank[finding.severity] > severityRank[seen.severity]) worst.set(key, finding);
    }
    findings = [...worst.values()];
  }
  const figures = child.figures;
  return {
    node,
    phase,
    findings,
    ...(group !== undefined ? { group } : {}),
    ...(osImage !== undefined ? { osImage } : {}),
    ...(figures !== undefined ? { figures } : {}),
  };
}

/** The parent's view of its children. */
export interface Aggregate {
  captures: CaptureCounts;
  reported: number;
  findings: AggregatedFinding[];
  findingCount: number;
  highestSeverity: Severity | 'none';
  comparison?: KernelInvestigationStatus['comparison'];
  /** Figures over all nodes that gave them. */
  figures: GroupFigure[];
  /** Every child has finished (or the deadline passed). */
  finished: boolean;
  /** Up to `limits.timedOutExamples` nodes that did not report, in name order. */
  timedOutNodes: string[];
  /** How many nodes did not report (timed out); the same as captures.timedOut. */
  timedOut: number;
}

export interface Progress {
  reported: number;
  timedOut: number;
  finished: boolean;
}

function isReported(phase: CapturePhase): boolean {
  return phase !== 'TimedOut' && finishedCapturePhases.includes(phase);
}

/** The smallest `n` strings of `values`, sorted. O(values × n). */
function smallest(values: Iterable<string>, n: number): string[] {
  const out: string[] = [];
  for (const value of values) {
    if (out.length === n && value >= out[n - 1]!) continue;
    let i = out.length;
    while (i > 0 && out[i - 1]! > value) i--;
    out.splice(i, 0, value);
    if (out.length > n) out.pop();
  }
  return out;
}

function clip(line: string): string {
  return line.length > limits.evidenceChars ? `${line.slice(0, limits.evidenceChars - 3)}...` : line;
}

/**
 * One finding key across the nodes that report it: how many, the worst severity, the first few
 * nodes by name (examples and evidence come from them) and the finding text of the first node
 * with the worst severity. Adding is O(examples); removing an example or the representative node
 * marks them stale, and the next render finds them again among this finding's nodes.
 */
export class FindingTally {
  private readonly byNode = new Map<string, Finding>();
  /** Nodes per severity rank (index 1..3). */
  private readonly bySeverity = [0, 0, 0, 0];
  private examples: string[] | undefined = [];
  /** The first node by name among those with the worst severity; undefined when stale. */
  private representative: string | undefined;
  private representativeStale = false;
  /** The pods the nodes' findings name, and how many of them each owner ("<namespace>\0<owner>") has. */
  private podCount = 0;
  private readonly podsByOwner = new Map<string, number>();

  get nodes(): number {
    return this.byNode.size;
  }

  /** Pods live on one node: the nodes' lists add up without double counting. */
  private countPods(finding: Finding, by: 1 | -1): void {
    for (const pod of finding.pods ?? []) {
      this.podCount += by;
      if (!pod.owner) continue;
      const key = `${pod.namespace}\0${pod.owner}`;
      const count = (this.podsByOwner.get(key) ?? 0) + by;
      if (count === 0) this.podsByOwner.delete(key);
      else this.podsByOwner.set(key, count);
    }
  }

  private renderPods(): PodOwners | undefined {
    if (this.podCount === 0) return undefined;
    const owners = [...this.podsByOwner]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, limits.podOwners)
      .map(([key, pods]) => {
        const [namespace, owner] = key.split('\0') as [string, string];
        return { namespace, owner, pods };
      });
    return { count: this.podCount, owners };
  }

  add(node: string, finding: Finding): void {
    this.byNode.set(node, finding);
    this.countPods(finding, 1);
    this.bySeverity[severityRank[finding.severity]]! += 1;
    if (this.examples) this.examples = smallest([...this.examples, node], limits.exampleNodes);
    if (!this.representativeStale) {
      const current = this.representative === undefined ? undefined : this.byNode.get(this.representative);
      const rank = severityRank[finding.severity];
      const currentRank = current ? severityRank[current.severity] : 0;
      if (rank > currentRank || (rank === currentRank && node < this.representative!)) this.representative = node;
    }
  }

  remove(node: string): void {
    const finding = this.byNode.get(node);
    if (!finding) return;
    this.byNode.delete(node);
    this.countPods(finding, -1);
    this.bySeverity[severityRank[finding.severity]]! -= 1;
    if (this.examples?.includes(node)) this.examples = undefined;
    if (this.representative === node) {
      this.representative = undefined;
      this.representativeStale = true;
    }
  }

  get severity(): Severity {
    return this.bySeverity[3]! > 0 ? 'critical' : this.bySeverity[2]! > 0 ? 'warning' : 'info';
  }

  render(): AggregatedFinding {
    this.examples ??= smallest(this.byNode.keys(), limits.exampleNodes);
    if (this.representativeStale) {
      const worst = severityRank[this.severity];
      this.representative = smallest(
        [...this.byNode].filter(([, f]) => severityRank[f.severity] === worst).map(([node]) => node),
        1,
      )[0];
      this.representativeStale = false;
    }
    const { pods: _nodePods, ...finding } = this.byNode.get(this.representative!)!;
    const pods = this.renderPods();
    const evidence: string[] = [];
    for (const [i, node] of this.examples.entries()) {
      for (const line of this.byNode.get(node)!.evidence.slice(0, i === 0 ? limits.evidenceFromFirstNode : 1)) evidence.push(clip(`${node}: ${line}`));
    }
    const suggestedMitigation = finding.suggestedMitigation ?? this.examples.map((node) => this.byNode.get(node)!.suggestedMitigation).find(Boolean);
    return {
      ...finding,
      ...(suggestedMitigation ? { suggestedMitigation } : {}),
      evidence: evidence.slice(0, limits.evidenceLines),
      nodes: { count: this.byNode.size, examples: [...this.examples] },
      ...(pods ? { pods } : {}),
    };
  }
}

/** The first index of `sorted` whose value is not below `value`. */
function lowerBound(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (sorted[mid]! < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * One figure over the nodes of a group that gave it: each node's value, and all values kept
 * sorted (binary search, then one splice), so a change costs O(log n) comparisons plus a memmove
 * and the median, minimum and maximum are read in O(1) at render.
 */
class FigureTally {
  private readonly byNode = new Map<string, number>();
  private readonly sorted: number[] = [];

  get nodes(): number {
    return this.byNode.size;
  }

  set(node: string, value: number): void {
    this.remove(node);
    this.byNode.set(node, value);
    this.sorted.splice(lowerBound(this.sorted, value), 0, value);
  }

  remove(node: string): void {
    const value = this.byNode.get(node);
    if (value === undefined) return;
    this.byNode.delete(node);
    this.sorted.splice(lowerBound(this.sorted, value), 1);
  }

  render(name: FigureId): GroupFigure {
    const values = this.sorted;
    const middle = values.length >> 1;
    const median = values.length % 2 === 1 ? values[middle]! : (values[middle - 1]! + values[middle]!) / 2;
    return { name, nodes: values.length, median: roundFigure(median), min: roundFigure(values[0]!), max: roundFigure(values.at(-1)!) };
  }
}

/**
 * One comparison group: its nodes, how many reported, how many of them saw each pattern, their
 * OS images and their figures. A further per-group figure is a field here that change() moves by
 * exact inverses and that render() reads (docs/aggregation.md).
 */
export class GroupTally {
  nodes = 0;
  reported = 0;
  private readonly patterns = new Map<string, number>();
  private readonly osImages = new Map<string, number>();
  private readonly figures = new Map<FigureId, FigureTally>();

  add(child: ChildSummary): void {
    this.change(child, 1);
  }

  remove(child: ChildSummary): void {
    this.change(child, -1);
  }

  private change(child: ChildSummary, by: 1 | -1): void {
    this.nodes += by;
    if (isReported(child.phase)) this.reported += by;
    if (child.findings.length > 0) for (const pattern of new Set(child.findings.map((f) => f.pattern))) count(this.patterns, pattern, by);
    if (child.osImage !== undefined) count(this.osImages, child.osImage, by);
    if (child.figures) for (const [id, value] of Object.entries(child.figures) as [FigureId, number][]) this.changeFigure(id, child.node, value, by);
  }

  private changeFigure(id: FigureId, node: string, value: number, by: 1 | -1): void {
    let tally = this.figures.get(id);
    if (by === 1) {
      if (!tally) {
        tally = new FigureTally();
        this.figures.set(id, tally);
      }
      tally.set(node, value);
    } else if (tally) {
      tally.remove(node);
      if (tally.nodes === 0) this.figures.delete(id);
    }
  }

  /** The patterns seen in the group. */
  patternSet(): ReadonlySet<string> {
    return new Set(this.patterns.keys());
  }

  /** The OS image most of the group's nodes run (the first by name among equals). */
  osImage(): string | undefined {
    let best: [string, number] | undefined;
    for (const entry of this.osImages) if (!best || entry[1] > best[1] || (entry[1] === best[1] && entry[0] < best[0])) best = entry;
    return best?.[0];
  }

  /** The figures of the group's nodes, in definition order. */
  figureList(): GroupFigure[] {
    return figureIds.filter((id) => this.figures.has(id)).map((id) => this.figures.get(id)!.render(id));
  }

  render(value: string): NonNullable<KernelInvestigationStatus['comparison']>['groups'][number] {
    const figures = this.figureList();
    return { value, nodes: this.nodes, reported: this.reported, patterns: [...this.patterns.keys()].sort(), ...(figures.length > 0 ? { figures } : {}) };
  }
}

function count(counts: Map<string, number>, key: string, by: 1 | -1): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n === 0) counts.delete(key);
  else counts.set(key, n);
}

/**
 * Everything the parent's status says about its children, for one investigation: counts by
 * phase, findings merged by key, comparison groups. {@link set} and {@link delete} are
 * O(findings of the child × examples); {@link render} is O(distinct findings + groups), plus a
 * scan of one finding's nodes after a node that was an example was removed.
 */
export class InvestigationTally {
  private readonly children = new Map<string, ChildSummary>();
  private readonly phases: Record<CapturePhase, number> = { Pending: 0, Running: 0, Succeeded: 0, Failed: 0, Unsupported: 0, TimedOut: 0 };
  private readonly findings = new Map<string, FindingTally>();
  private readonly groups = new Map<string, GroupTally>();
  /** Every node as one group: the investigation's figures over all nodes. */
  private readonly all = new GroupTally();

  constructor(
    /** The investigation's uid: children owned by another incarnation of the name are not counted. */
    readonly uid: string,
    readonly groupBy: GroupBy,
  ) {}

  /** Children counted. */
  get size(): number {
    return this.children.size;
  }

  has(child: string): boolean {
    return this.children.has(child);
  }

  /** Counts a child, replacing what it contributed before. */
  set(child: string, summary: ChildSummary): void {
    this.delete(child);
    this.children.set(child, summary);
    this.phases[summary.phase] += 1;
    for (const finding of summary.findings) {
      const key = findingKey(finding);
      let tally = this.findings.get(key);
      if (!tally) {
        tally = new FindingTally();
        this.findings.set(key, tally);
      }
      tally.add(summary.node, finding);
    }
    this.all.add(summary);
    if (summary.group !== undefined) {
      let group = this.groups.get(summary.group);
      if (!group) {
        group = new GroupTally();
        this.groups.set(summary.group, group);
      }
      group.add(summary);
    }
  }

  /** Stops counting a child. */
  delete(child: string): void {
    const summary = this.children.get(child);
    if (!summary) return;
    this.children.delete(child);
    this.phases[summary.phase] -= 1;
    for (const finding of summary.findings) {
      const key = findingKey(finding);
      const tally = this.findings.get(key)!;
      tally.remove(summary.node);
      if (tally.nodes === 0) this.findings.delete(key);
    }
    this.all.remove(summary);
    if (summary.group !== undefined) {
      const group = this.groups.get(summary.group)!;
      group.remove(summary);
      if (group.nodes === 0) this.groups.delete(summary.group);
    }
  }

  /** How far the investigation is, in O(1): enough to decide whether a status write is due. */
  progress(targetNodes: number, deadlinePassed: boolean): Progress {
    const p = this.phases;
    const reported = p.Succeeded + p.Failed + p.Unsupported;
    const missing = Math.max(0, targetNodes - this.children.size);
    const timedOut = p.TimedOut + (deadlinePassed ? p.Pending + p.Running + missing : 0);
    return { reported, timedOut, finished: deadlinePassed || (targetNodes > 0 && reported + timedOut >= targetNodes) };
  }

  /** The parent's status figures. Past the deadline, children that have not finished count as timed out, and so do targets never created. */
  render(targetNodes: number, deadlinePassed: boolean): Aggregate {
    const p = this.phases;
    const { reported, timedOut, finished } = this.progress(targetNodes, deadlinePassed);
    const missing = Math.max(0, targetNodes - this.children.size);
    const captures: CaptureCounts = {
      pending: deadlinePassed ? 0 : p.Pending + missing,
      running: deadlinePassed ? 0 : p.Running,
      succeeded: p.Succeeded,
      failed: p.Failed,
      unsupported: p.Unsupported,
      timedOut,
    };
    const merged = [...this.findings.entries()]
      .map(([key, tally]) => ({ key, finding: tally.render() }))
      .sort(
        (a, b) =>
          severityRank[b.finding.severity] - severityRank[a.finding.severity] ||
          b.finding.nodes.count - a.finding.nodes.count ||
          a.finding.pattern.localeCompare(b.finding.pattern) ||
          a.finding.title.localeCompare(b.finding.title) ||
          (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
      )
      .map(({ finding }) => finding);
    const findings = merged.slice(0, limits.findings);
    return {
      captures,
      reported,
      findings,
      findingCount: merged.length,
      highestSeverity: findings[0]?.severity ?? 'none',
      ...(this.groupBy.kind === 'none' ? {} : { comparison: this.comparison() }),
      figures: this.all.figureList(),
      finished,
      timedOutNodes: timedOut > 0 ? this.timedOutNodes(deadlinePassed) : [],
      timedOut,
    };
  }

  private comparison(): NonNullable<KernelInvestigationStatus['comparison']> {
    const by = this.groupBy.kind === 'label' ? this.groupBy.label : 'kernelVersion';
    const sorted = [...this.groups].sort((a, b) => b[1].nodes - a[1].nodes || a[0].localeCompare(b[0]));
    const kernelRanges =
      this.groupBy.kind === 'kernelVersion'
        ? kernelRangesOf(sorted.map(([release, g]) => ({ release, reported: g.reported, patterns: g.patternSet(), osImage: g.osImage() })))
        : [];
    const groups = sorted.slice(0, limits.groups).map(([value, group]) => group.render(value));
    const differences = figureDifferences(groups.map((g) => ({ value: g.value, figures: g.figures ?? [] })));
    return {
      by,
      groups,
      ...(sorted.length > limits.groups ? { otherGroups: sorted.length - limits.groups } : {}),
      ...(kernelRanges.length > 0 ? { kernelRanges } : {}),
      ...(differences.length > 0 ? { differences } : {}),
    };
  }

  /** A few nodes that did not report: O(children), only needed once the investigation finishes with some timed out. */
  private timedOutNodes(deadlinePassed: boolean): string[] {
    const late = [...this.children.values()]
      .filter((c) => c.phase === 'TimedOut' || (deadlinePassed && !finishedCapturePhases.includes(c.phase)))
      .map((c) => c.node);
    return smallest(late, limits.timedOutExamples);
  }
}
