import type { Condition } from '../../api/v1alpha1/common.js';
import type { KernelMitigationStatus } from '../../api/v1alpha1/mitigation.js';
import type { SysctlStatus } from '../../api/v1alpha1/node.js';
import { setCondition, setHealth, type Clock, type Health } from '../../lib/conditions.js';
import type { MitigationInput, MitigationView, NodeInput } from './resolve.js';

const maxDryRun = 100;
const maxFailures = 20;
const maxConflicts = 16;
const maxPodExamples = 20;

type Reports = NonNullable<KernelMitigationStatus['dryRun']>;
type PodCoverage = NonNullable<KernelMitigationStatus['pods']>;

/**
 * The pods of the nodes holding this mitigation, from the agents' per-sysctl pod reports: per
 * node, the pods in scope are those of its most widely applied sysctl and the pods holding are
 * those of its least held one (a pod holds the mitigation when it holds every sysctl of it).
 * Undefined when no node reports pods, as for a mitigation of global sysctls only.
 */
function podCoverage(view: MitigationView, nodes: Map<string, NodeInput>, mitigation: string): PodCoverage | undefined {
  let reported = false;
  const coverage: PodCoverage = { inScope: 0, holding: 0, exceptions: 0, examples: [] };
  for (const name of view.eligible) {
    const reports = (nodes.get(name)?.status ?? []).filter((s) => s.mitigation === mitigation && s.pods);
    if (reports.length === 0) continue;
    reported = true;
    const inScope = Math.max(...reports.map((s) => s.pods!.inScope));
    const holding = Math.min(...reports.map((s) => s.pods!.holding));
    coverage.inScope += inScope;
    coverage.holding += holding;
    coverage.exceptions += inScope - holding;
    for (const s of reports) {
      for (const e of s.pods!.exceptions ?? []) {
        if (coverage.examples!.length < maxPodExamples) coverage.examples!.push({ node: name, sysctl: s.name, ...e });
      }
    }
  }
  return reported ? coverage : undefined;
}

/** Per node, how a mitigation's winning sysctls are doing according to the agent. */
function nodeState(view: MitigationView, node: NodeInput, mitigation: string): 'applied' | 'failed' | 'pending' | 'none' {
  const mine = (view.winning.get(node.name) ?? []).filter((d) => !d.dryRun);
  if (mine.length === 0) return 'none';
  const reports = mine.map((d) => node.status.find((s) => s.name === d.name && s.mitigation === mitigation && s.desired === d.value));
  if (reports.some((r) => r && (r.state === 'Failed' || r.state === 'Refused'))) return 'failed';
  if (reports.every((r) => r && (r.state === 'Applied' || r.state === 'Drifted'))) return 'applied';
  return 'pending';
}

function report(node: string, s: SysctlStatus | undefined, name: string, desired: string): Reports[number] {
  return {
    node,
    sysctl: name,
    desired,
    ...(s?.current !== undefined ? { current: s.current } : {}),
    ...(s?.message ? { message: s.message.slice(0, 1024) } : {}),
  };
}

/**
 * Ready, Reconciling or Stalled (docs/gitops.md), from the mitigation's own conditions: a conflict
 * or a failed node needs a person, so it stalls the mitigation even while other nodes still roll
 * out; nothing pending and nothing failed is Ready, also for a dry run or no matching node, where
 * nothing has to change.
 */
function health(conditions: Condition[], pending: number): Health {
  const own = (type: string) => conditions.find((c) => c.type === type)!;
  for (const type of ['Conflict', 'Degraded']) {
    const c = own(type);
    if (c.status === 'True') return { state: 'Stalled', reason: c.reason, message: c.message };
  }
  const applied = own('Applied');
  if (pending > 0) return { state: 'Reconciling', reason: 'RollingOut', message: `${applied.message}; ${own('Progressing').message}` };
  return { state: 'Ready', reason: applied.reason, message: applied.message };
}

/** The mitigation's status from the resolution and the agents' reports. Pure. */
export function mitigationStatus(
  m: MitigationInput,
  view: MitigationView | undefined,
  nodes: NodeInput[],
  generation: number | undefined,
  previous: Condition[] | undefined,
  clock?: Clock,
): KernelMitigationStatus {
  const set = (conditions: Condition[], type: string, status: Condition['status'], reason: string, message: string): Condition[] =>
    setCondition(conditions, { type, status, reason, message, observedGeneration: generation }, clock);
  let conditions = previous ?? [];

  if (m.refused || !view) {
    const reason = m.refusedReason ?? 'SysctlNotAllowed';
    conditions = set(conditions, 'Accepted', 'False', reason, m.refused ?? 'refused');
    conditions = set(
      conditions,
      'Applied',
      'False',
      reason,
      reason === 'SysctlNotAllowed' ? 'nothing is written while a sysctl is not allowed' : 'nothing is written until spec.kernelVersions is fixed',
    );
    conditions = setHealth(conditions, { state: 'Stalled', reason, message: m.refused ?? 'refused' }, generation, clock);
    return { observedGeneration: generation, conditions };
  }
  conditions = set(conditions, 'Accepted', 'True', 'Allowed', 'every sysctl is in the allow-list');
  const undecided = view.undecidedKernel;
  const undecidedNote =
    undecided.length > 0
      ? `; kernelVersions cannot place ${undecided.length} matching node${undecided.length === 1 ? '' : 's'} (${undecided[0]!.node}: ${undecided[0]!.reason})`
      : '';

  const byName = new Map(nodes.map((n) => [n.name, n]));
  let applied = 0;
  let failed = 0;
  let drifted = 0;
  const failures: Reports = [];
  const dryRun: Reports = [];
  for (const name of view.eligible) {
    const node = byName.get(name)!;
    const state = nodeState(view, node, m.name);
    if (state === 'applied') applied++;
    if (state === 'failed') failed++;
    const mine = node.status.filter((s) => s.mitigation === m.name);
    if (mine.some((s) => (s.driftCount ?? 0) > 0)) drifted++;
    for (const d of view.winning.get(name) ?? []) {
      const s = mine.find((x) => x.name === d.name);
      if (d.dryRun && dryRun.length < maxDryRun) dryRun.push(report(name, s, d.name, d.value));
      if (s && (s.state === 'Failed' || s.state === 'Refused') && failures.length < maxFailures) failures.push(report(name, s, d.name, d.value));
    }
  }
  const toApply = m.spec.dryRun ? 0 : view.eligible.length;
  const pending = Math.max(0, toApply - applied - failed);
  const conflicts = [...view.conflicts.values()].slice(0, maxConflicts);

  if (m.spec.dryRun) {
    conditions = set(conditions, 'Applied', 'False', 'DryRun', `dry run: ${dryRun.length} values reported from ${view.eligible.length} nodes, nothing written`);
  } else if (view.eligible.length === 0) {
    conditions = set(
      conditions,
      'Applied',
      'False',
      'NoMatchingNodes',
      view.matched.length > 0
        ? `${view.skippedKernel.length} matching nodes run a kernel outside ${m.spec.kernelVersions}${undecidedNote}`
        : 'no node matches nodeSelector',
    );
  } else if (applied === toApply) {
    conditions = set(conditions, 'Applied', 'True', 'AllNodesApplied', `held on ${applied} node${applied === 1 ? '' : 's'}${undecidedNote}`);
  } else {
    conditions = set(conditions, 'Applied', 'False', 'Progressing', `held on ${applied} of ${toApply} nodes${undecidedNote}`);
  }
  conditions =
    pending > 0 && !view.halted
      ? set(
          conditions,
          'Progressing',
          'True',
          'RollingOut',
          `${pending} node${pending === 1 ? '' : 's'} pending (at most ${m.spec.rollout?.maxConcurrentNodes ?? 10} at a time)`,
        )
      : set(conditions, 'Progressing', 'False', view.halted ? 'RolloutHalted' : 'Done', view.halted ? 'rollout halted' : 'no node pending');
  conditions = view.halted
    ? set(
        conditions,
        'Degraded',
        'True',
        'RolloutHalted',
        `${failed} nodes failed, more than maxFailedNodes ${m.spec.rollout?.maxFailedNodes ?? 3}: no more nodes are changed until they recover`,
      )
    : failed > 0
      ? set(conditions, 'Degraded', 'True', 'NodesFailed', `${failed} node${failed === 1 ? '' : 's'} failed to apply (see status.failures)`)
      : set(conditions, 'Degraded', 'False', 'NoFailures', 'no node failed');
  conditions =
    conflicts.length > 0
      ? set(
          conditions,
          'Conflict',
          'True',
          'ConflictingMitigation',
          conflicts.map((c) => `${c.mitigation} sets ${c.sysctl}=${c.otherValue} (this sets ${c.value}) at equal priority on ${c.nodes} nodes`).join('; '),
        )
      : set(conditions, 'Conflict', 'False', 'NoConflict', 'no other mitigation sets these sysctls differently at equal priority');

  conditions = setHealth(conditions, health(conditions, pending), generation, clock);

  const pods = m.spec.dryRun ? undefined : podCoverage(view, byName, m.name);
  return {
    observedGeneration: generation,
    ...(pods ? { pods, podCoverage: `${pods.holding}/${pods.inScope}` } : {}),
    nodes: {
      matched: view.matched.length,
      applied,
      pending,
      failed,
      drifted,
      skippedKernel: view.skippedKernel.length,
      conflicted: view.conflicted.size,
      overridden: view.overridden.size,
    },
    progress: `${applied}/${toApply}`,
    conflicts,
    dryRun,
    failures,
    conditions,
  };
}
