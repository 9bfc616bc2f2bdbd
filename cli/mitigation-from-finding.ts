import { stringify } from 'yaml';
import { apiVersion } from '../api/v1alpha1/common.js';
import type { AggregatedFinding } from '../api/v1alpha1/finding.js';
import { mitigationSpec } from '../api/v1alpha1/mitigation.js';
import type { KernelInvestigation, KernelMitigation } from '../api/v1alpha1/resources.js';
import { childName } from '../lib/names.js';

export interface FromFindingOptions {
  name?: string;
  dryRun: boolean;
}

/** The kernel versions a finding appeared on, when the investigation compared by kernel version. */
function affectedKernels(investigation: KernelInvestigation, pattern: string): string | undefined {
  const comparison = investigation.status?.comparison;
  if (comparison?.by !== 'kernelVersion') return undefined;
  const versions = comparison.groups
    .filter((g) => g.patterns.includes(pattern))
    .map((g) => /^(\d+(?:\.\d+){0,2})/.exec(g.value)?.[1])
    .filter((v): v is string => v !== undefined);
  return versions.length > 0 ? [...new Set(versions)].map((v) => `=${v}`).join(' || ') : undefined;
}

/**
 * A KernelMitigation built from a finding's suggested sysctls, scoped to the nodes the
 * investigation looked at and, when it compared kernels, to the kernel versions that showed the
 * finding. Throws when the finding is absent or suggests no sysctl.
 */
export function mitigationFromFinding(
  investigation: KernelInvestigation,
  pattern: string,
  options: FromFindingOptions,
): { mitigation: KernelMitigation; finding: AggregatedFinding } {
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
  const kernels = affectedKernels(investigation, pattern);
  const selector = investigation.spec.nodes.selector;
  const spec = mitigationSpec.parse({
    description:
      `${finding.title} — found by investigation ${name} on ${finding.nodes.count} node${finding.nodes.count === 1 ? '' : 's'}. ${finding.suggestedMitigation.reason ?? ''}`
        .trim()
        .slice(0, 2048),
    sysctls: finding.suggestedMitigation.sysctls,
    ...(selector && (selector.matchLabels || selector.matchExpressions) ? { nodeSelector: selector } : {}),
    ...(kernels ? { kernelVersions: kernels } : {}),
    ...(options.dryRun ? { dryRun: true } : {}),
  });
  const mitigation: KernelMitigation = {
    apiVersion,
    kind: 'KernelMitigation',
    metadata: {
      name: options.name ?? childName([pattern, name], 253),
      annotations: { 'ksleuth.io/from-investigation': name, 'ksleuth.io/from-finding': pattern },
    },
    spec,
  };
  return { mitigation, finding };
}

/** The YAML to commit, with a header that says where it came from and what to check. */
export function mitigationYaml(mitigation: KernelMitigation, finding: AggregatedFinding): string {
  const { priority: _p, revertPolicy: _r, dryRun, ...rest } = mitigation.spec;
  const shown = { ...mitigation, spec: { ...rest, ...(dryRun ? { dryRun } : {}) } };
  const header = [
    `# From the "${finding.pattern}" finding of investigation ${mitigation.metadata.annotations?.['ksleuth.io/from-investigation']}:`,
    `#   ${finding.title}`,
    `#   affected nodes: ${finding.nodes.count} (${finding.nodes.examples.join(', ')})`,
    '# Check nodeSelector and kernelVersions before you commit it; removing it restores every node.',
  ];
  return `${header.join('\n')}\n${stringify(shown, { lineWidth: 0 })}`;
}
