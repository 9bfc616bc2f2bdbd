import { stringify } from 'yaml';
import { apiVersion, labelValue, type LabelSelector } from '../api/v1alpha1/common.js';
import type { AggregatedFinding } from '../api/v1alpha1/finding.js';
import { mitigationSpec } from '../api/v1alpha1/mitigation.js';
import type { KernelInvestigation, KernelMitigation } from '../api/v1alpha1/resources.js';
import { deriveKernelRange } from '../lib/kernel/derive-range.js';
import { parseKernelRange } from '../lib/kernel/range.js';
import { childName } from '../lib/names.js';

export interface FromFindingOptions {
  name?: string;
  dryRun: boolean;
  /** The kubernetes.io/hostname label of the investigation's named nodes, where it could be read. */
  hostnames?: ReadonlyMap<string, string>;
}

const hostnameLabel = 'kubernetes.io/hostname';
/** A label selector requirement takes at most this many values (api/v1alpha1/common.ts). */
const maxValues = 64;

/** A mitigation that cannot be scoped as safely as the investigation was. */
export class ScopeError extends Error {
  override name = 'ScopeError';
}

function selects(selector: LabelSelector | undefined): boolean {
  return Object.keys(selector?.matchLabels ?? {}).length > 0 || (selector?.matchExpressions?.length ?? 0) > 0;
}

/**
 * The nodeSelector that covers the nodes the investigation chose, never one that matches every
 * node: its selector as is, or its node names as a kubernetes.io/hostname In [...] requirement.
 * Throws ScopeError where one selector cannot say it.
 */
export function nodeSelectorOf(investigation: KernelInvestigation, hostnames?: ReadonlyMap<string, string>): { selector: LabelSelector; notes: string[] } {
  const name = investigation.metadata.name!;
  const { names, selector } = investigation.spec.nodes;
  if (names?.length && selector) {
    throw new ScopeError(
      `investigation ${name} chose its nodes by names and by a selector (either one); a nodeSelector cannot say "these nodes or those labels": label the nodes to mitigate (kubectl label node NAME KEY=VALUE) and run an investigation that selects that label`,
    );
  }
  if (selector) {
    if (!selects(selector)) {
      throw new ScopeError(
        `investigation ${name} chose its nodes with an empty selector, which matches every node; a mitigation needs a narrower one: investigate with --selector, or write nodeSelector by hand`,
      );
    }
    return { selector, notes: [] };
  }
  const nodes = [...new Set(names ?? [])].sort();
  if (nodes.length === 0) throw new ScopeError(`investigation ${name} names no nodes and has no selector: there is nothing to scope the mitigation to`);
  if (nodes.length > maxValues) {
    throw new ScopeError(
      `investigation ${name} named ${nodes.length} nodes; a nodeSelector requirement takes at most ${maxValues} values: label the nodes (kubectl label node NAME KEY=VALUE) and investigate by that label`,
    );
  }
  const unread = nodes.filter((n) => !hostnames?.has(n));
  const values = nodes.map((n) => hostnames?.get(n) ?? n);
  const bad = values.find((v) => !labelValue.safeParse(v).success || v === '');
  if (bad !== undefined) {
    throw new ScopeError(
      `node ${bad} cannot be a ${hostnameLabel} label value (at most 63 characters: letters, digits, "-", "_", "."); label the nodes to mitigate and select that label`,
    );
  }
  return {
    selector: { matchExpressions: [{ key: hostnameLabel, operator: 'In', values: [...new Set(values)].sort() }] },
    notes:
      unread.length > 0
        ? [
            `the ${hostnameLabel} label of ${unread.join(', ')} could not be read; the node name was used (kubelets set the label to the host name, which is usually the node name)`,
          ]
        : [],
  };
}

/**
 * The kernels a finding was seen on: the range the comparison derived (seen on X and later, not
 * on Y and earlier, within each distribution), or, where the evidence does not order, exactly the
 * releases that showed it.
 */
export function affectedKernels(investigation: KernelInvestigation, pattern: string): { kernelVersions?: string; notes: string[] } {
  const comparison = investigation.status?.comparison;
  if (comparison?.by !== 'kernelVersion') return { notes: [] };
  const reported = comparison.groups.filter((g) => g.reported > 0);
  const derived =
    comparison.kernelRanges?.find((r) => r.pattern === pattern) ??
    (() => {
      const d = deriveKernelRange(reported.map((g) => ({ release: g.value, seen: g.patterns.includes(pattern) })));
      return { pattern, statement: d.statement, ...(d.range ? { range: d.range } : {}) };
    })();
  if (derived.range) return { kernelVersions: derived.range, notes: [`kernels: ${derived.statement}`] };
  const exact = reported.filter((g) => g.patterns.includes(pattern)).map((g) => `=${g.value}`);
  if (exact.length === 0) return { notes: [] };
  const kernelVersions = exact.join(' || ');
  parseKernelRange(kernelVersions);
  return { kernelVersions, notes: [`no kernel range: ${derived.statement}; listed the releases that showed it`] };
}

/**
 * A KernelMitigation built from a finding's suggested sysctls, scoped to the nodes the
 * investigation looked at and, when it compared kernels, to the kernels that showed the finding.
 * Throws when the finding is absent, suggests no sysctl, or the scope cannot be kept.
 */
export function mitigationFromFinding(
  investigation: KernelInvestigation,
  pattern: string,
  options: FromFindingOptions,
): { mitigation: KernelMitigation; finding: AggregatedFinding; notes: string[] } {
  const findings = investigation.status?.findings ?? [];
  const finding = findings.find((f) => f.pattern === pattern && f.suggestedMitigation) ?? findings.find((f) => f.pattern === pattern);
  const name = investigation.metadata.name!;
  if (!finding) {
    const have = [...new Set(findings.map((f) => f.pattern))];
    throw new Error(`investigation ${name} has no "${pattern}" finding${have.length ? `; it has: ${have.join(', ')}` : ' (it has no findings)'}`);
  }
  if (!finding.suggestedMitigation) {
    throw new Error(`the "${pattern}" finding suggests no sysctl that helps; its recommendation: ${finding.recommendation}`);
  }
  const scope = nodeSelectorOf(investigation, options.hostnames);
  const kernels = affectedKernels(investigation, pattern);
  const spec = mitigationSpec.parse({
    description:
      `${finding.title} — found by investigation ${name} on ${finding.nodes.count} node${finding.nodes.count === 1 ? '' : 's'}. ${finding.suggestedMitigation.reason ?? ''}`
        .trim()
        .slice(0, 2048),
    sysctls: finding.suggestedMitigation.sysctls,
    nodeSelector: scope.selector,
    ...(kernels.kernelVersions ? { kernelVersions: kernels.kernelVersions } : {}),
    ...(options.dryRun ? { dryRun: true } : {}),
  });
  if (!selects(spec.nodeSelector)) throw new ScopeError('refusing to write a mitigation whose nodeSelector matches every node');
  const mitigation: KernelMitigation = {
    apiVersion,
    kind: 'KernelMitigation',
    metadata: {
      name: options.name ?? childName([pattern, name], 253),
      annotations: { 'ksleuth.io/from-investigation': name, 'ksleuth.io/from-finding': pattern },
    },
    spec,
  };
  return { mitigation, finding, notes: [...kernels.notes, ...scope.notes] };
}

/** The YAML to commit, with a header that says where it came from and what to check. */
export function mitigationYaml(mitigation: KernelMitigation, finding: AggregatedFinding, notes: string[] = []): string {
  const { priority: _p, revertPolicy: _r, dryRun, ...rest } = mitigation.spec;
  const shown = { ...mitigation, spec: { ...rest, ...(dryRun ? { dryRun } : {}) } };
  const header = [
    `# From the "${finding.pattern}" finding of investigation ${mitigation.metadata.annotations?.['ksleuth.io/from-investigation']}:`,
    `#   ${finding.title}`,
    `#   affected nodes: ${finding.nodes.count} (${finding.nodes.examples.join(', ')})`,
    ...notes.map((n) => `#   ${n}`),
    '# Check nodeSelector and kernelVersions before you commit it; removing it restores every node.',
  ];
  return `${header.join('\n')}\n${stringify(shown, { lineWidth: 0 })}`;
}
