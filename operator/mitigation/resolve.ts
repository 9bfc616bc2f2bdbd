import type { KernelMitigationSpec } from '../../api/v1alpha1/mitigation.js';
import type { DesiredSysctl, SysctlStatus } from '../../api/v1alpha1/node.js';
import { type KernelRange, kernelRangeVerdict } from '../../lib/kernel/range.js';
import { matchesSelector } from '../../lib/selector.js';

export interface MitigationInput {
  name: string;
  spec: KernelMitigationSpec;
  /** spec.kernelVersions, read where the mitigation enters (undefined: every kernel). */
  kernelRange?: KernelRange;
  /** Being deleted: its values are reverted everywhere. */
  deleting: boolean;
  /** Why it is refused (allow-list, an unreadable kernelVersions); a refused mitigation applies nowhere. */
  refused?: string;
  /** The CamelCase reason for the refusal (default SysctlNotAllowed). */
  refusedReason?: string;
}

export interface NodeInput {
  name: string;
  labels: Record<string, string>;
  kernelVersion?: string;
  /** The node's OS image, which tells some kernels apart (Container-Optimized OS, Bottlerocket). */
  osImage?: string;
  /** Whether the node's agent has registered a KernelNode (only those get a desired list). */
  registered: boolean;
  /** The KernelNode's current spec.sysctls. */
  current: DesiredSysctl[];
  /** The agent's report, status.sysctls. */
  status: SysctlStatus[];
}

export interface Conflict {
  sysctl: string;
  mitigation: string;
  value: string;
  otherValue: string;
  nodes: number;
}

/** What one mitigation amounts to across the nodes. */
export interface MitigationView {
  matched: string[];
  skippedKernel: string[];
  /** Skipped nodes whose kernel the range cannot place, and why. */
  undecidedKernel: { node: string; kernel: string; reason: string }[];
  /** Matched nodes inside the kernel range. */
  eligible: string[];
  /** Eligible nodes it is rolled out to (the rest wait for the rollout limit). */
  admitted: Set<string>;
  /** Per node, the sysctls where it wins. */
  winning: Map<string, DesiredSysctl[]>;
  conflicted: Set<string>;
  overridden: Set<string>;
  conflicts: Map<string, Conflict>;
  /** The rollout stopped because too many nodes failed. */
  halted: boolean;
}

export interface Resolution {
  /** Desired spec.sysctls per registered node, sorted by name. */
  desired: Map<string, DesiredSysctl[]>;
  views: Map<string, MitigationView>;
}

interface Candidate {
  mitigation: MitigationInput;
  name: string;
  value: string;
}

const failedStates = new Set(['Failed', 'Refused']);

/** Nodes where a mitigation's sysctls are written but not yet all held, or failed. */
function rolloutState(mitigation: string, nodes: NodeInput[]): { inProgress: Set<string>; failed: Set<string>; present: Set<string> } {
  const inProgress = new Set<string>();
  const failed = new Set<string>();
  const present = new Set<string>();
  for (const node of nodes) {
    const mine = node.current.filter((d) => d.mitigation === mitigation && !d.dryRun);
    if (mine.length === 0) continue;
    present.add(node.name);
    const states = mine.map((d) => node.status.find((s) => s.name === d.name && s.mitigation === mitigation && s.desired === d.value)?.state);
    if (states.some((s) => s !== undefined && failedStates.has(s))) failed.add(node.name);
    else if (!states.every((s) => s === 'Applied' || s === 'Drifted')) inProgress.add(node.name);
  }
  return { inProgress, failed, present };
}

function admit(m: MitigationInput, eligible: string[], nodes: NodeInput[]): { admitted: Set<string>; halted: boolean } {
  if (m.spec.dryRun) return { admitted: new Set(eligible), halted: false };
  const { inProgress, failed, present } = rolloutState(m.name, nodes);
  const maxConcurrent = m.spec.rollout?.maxConcurrentNodes ?? 10;
  const maxFailed = m.spec.rollout?.maxFailedNodes ?? 3;
  const admitted = new Set(eligible.filter((n) => present.has(n)));
  const halted = failed.size > maxFailed;
  let room = halted ? 0 : Math.max(0, maxConcurrent - [...inProgress].filter((n) => admitted.has(n)).length);
  const registered = new Set(nodes.filter((n) => n.registered).map((n) => n.name));
  for (const node of eligible) {
    if (room <= 0) break;
    if (admitted.has(node) || !registered.has(node)) continue;
    admitted.add(node);
    room--;
  }
  return { admitted, halted };
}

function emptyView(): MitigationView {
  return {
    matched: [],
    skippedKernel: [],
    undecidedKernel: [],
    eligible: [],
    admitted: new Set(),
    winning: new Map(),
    conflicted: new Set(),
    overridden: new Set(),
    conflicts: new Map(),
    halted: false,
  };
}

/**
 * Resolves every node's desired sysctls from all mitigations: node selector, kernel-version range,
 * rollout limits, then per sysctl the highest priority wins. Equal priorities with different
 * values are a conflict: neither wins, except that a value already in force stays (no flapping).
 * Dry-run mitigations never conflict; they preview a sysctl no real mitigation sets. Pure.
 */
export function resolveMitigations(mitigations: MitigationInput[], nodes: NodeInput[]): Resolution {
  const views = new Map<string, MitigationView>();
  const active = [...mitigations].filter((m) => !m.deleting && !m.refused).sort((a, b) => a.name.localeCompare(b.name));
  const sortedNodes = [...nodes].sort((a, b) => a.name.localeCompare(b.name));

  for (const m of mitigations) views.set(m.name, emptyView());
  for (const m of active) {
    const view = views.get(m.name)!;
    for (const node of sortedNodes) {
      if (!matchesSelector(m.spec.nodeSelector, node.labels)) continue;
      view.matched.push(node.name);
      const verdict = m.kernelRange
        ? kernelRangeVerdict(node.kernelVersion ?? '', m.kernelRange, node.osImage ? { osImage: node.osImage } : {})
        : { inRange: true };
      if (verdict.inRange === true) {
        view.eligible.push(node.name);
        continue;
      }
      view.skippedKernel.push(node.name);
      if (verdict.inRange === undefined) view.undecidedKernel.push({ node: node.name, kernel: node.kernelVersion ?? '', reason: verdict.reason ?? '' });
    }
    const rollout = admit(m, view.eligible, sortedNodes);
    view.admitted = rollout.admitted;
    view.halted = rollout.halted;
  }

  const desired = new Map<string, DesiredSysctl[]>();
  for (const node of sortedNodes) {
    const real = new Map<string, Candidate[]>();
    const preview = new Map<string, Candidate[]>();
    for (const m of active) {
      if (!views.get(m.name)!.admitted.has(node.name)) continue;
      const target = m.spec.dryRun ? preview : real;
      for (const s of m.spec.sysctls) target.set(s.name, [...(target.get(s.name) ?? []), { mitigation: m, name: s.name, value: s.value }]);
    }
    const chosen: DesiredSysctl[] = [];
    for (const [sysctl, candidates] of real) {
      const winner = pickWinner(sysctl, candidates, node, views);
      if (winner) chosen.push(entry(winner, false));
    }
    for (const [sysctl, candidates] of preview) {
      if (real.has(sysctl)) continue;
      chosen.push(entry(candidates[0]!, true));
    }
    chosen.sort((a, b) => a.name.localeCompare(b.name));
    for (const d of chosen) {
      const view = views.get(d.mitigation)!;
      view.winning.set(node.name, [...(view.winning.get(node.name) ?? []), d]);
    }
    if (node.registered) desired.set(node.name, chosen);
  }
  return { desired, views };
}

function entry(c: Candidate, dryRun: boolean): DesiredSysctl {
  const { pods } = c.mitigation.spec;
  return { name: c.name, value: c.value, mitigation: c.mitigation.name, revertPolicy: c.mitigation.spec.revertPolicy, dryRun, ...(pods ? { pods } : {}) };
}

function pickWinner(sysctl: string, candidates: Candidate[], node: NodeInput, views: Map<string, MitigationView>): Candidate | undefined {
  const top = Math.max(...candidates.map((c) => c.mitigation.spec.priority));
  const leaders = candidates.filter((c) => c.mitigation.spec.priority === top);
  for (const c of candidates) {
    if (c.mitigation.spec.priority < top && leaders.some((l) => l.value !== c.value)) views.get(c.mitigation.name)!.overridden.add(node.name);
  }
  const values = new Set(leaders.map((c) => c.value));
  if (values.size === 1) return leaders[0];
  for (const a of leaders) {
    const view = views.get(a.mitigation.name)!;
    view.conflicted.add(node.name);
    for (const b of leaders) {
      if (b.value === a.value) continue;
      const key = `${sysctl}/${b.mitigation.name}`;
      const conflict = view.conflicts.get(key) ?? { sysctl, mitigation: b.mitigation.name, value: a.value, otherValue: b.value, nodes: 0 };
      conflict.nodes++;
      view.conflicts.set(key, conflict);
    }
  }
  // Keep whatever is already in force so a conflict never makes the value flap.
  const inForce = node.current.find((d) => d.name === sysctl && !d.dryRun);
  return inForce ? leaders.find((c) => c.mitigation.name === inForce.mitigation && c.value === inForce.value) : undefined;
}
