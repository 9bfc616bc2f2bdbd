import type { Finding, FindingPod, PodOwners } from '../api/v1alpha1/finding.js';
import type { CaptureOutcome, NodeReport } from '../node-agent/engine/run.js';
import { formatBytes } from '../lib/findings.js';
import { table } from './table.js';

/** A node's finding (the pods it names) or one merged across nodes (how many pods, and their owners). */
export type ShownFinding = Omit<Finding, 'pods'> & { nodes?: { count: number; examples: string[] }; pods?: FindingPod[] | PodOwners };

/** "pods: 3 (shop/Deployment/web 2, ...)" or "pods: shop/web-1 (Deployment/web), ...". */
function podsLine(pods: FindingPod[] | PodOwners): string {
  if (Array.isArray(pods)) return `pods: ${pods.map((p) => `${p.namespace}/${p.name}${p.owner ? ` (${p.owner})` : ''}`).join(', ')}`;
  const owners = pods.owners.map((o) => `${o.namespace}/${o.owner} ${o.pods}`).join(', ');
  return `pods: ${pods.count}${owners ? ` (${owners})` : ''}`;
}

/** The findings table, then each finding's evidence and recommendation. */
export function renderFindings(findings: readonly ShownFinding[]): string {
  if (findings.length === 0) return 'No findings.';
  const withNodes = findings.some((f) => f.nodes);
  const headers = ['severity', 'pattern', ...(withNodes ? ['nodes'] : ['capture']), 'title'];
  const rows = findings.map((f) => [f.severity, f.pattern, withNodes ? String(f.nodes?.count ?? '') : f.capture, f.title]);
  const details = findings.map((f, i) => {
    const lines = [`${i + 1}. ${f.title} [${f.pattern}, ${f.severity}]`];
    if (f.nodes) lines.push(`   nodes: ${f.nodes.count} (${f.nodes.examples.join(', ')})`);
    if (f.pods && (!Array.isArray(f.pods) || f.pods.length > 0)) lines.push(`   ${podsLine(f.pods)}`);
    for (const e of f.evidence) lines.push(`   - ${e}`);
    lines.push(`   recommendation: ${f.recommendation}`);
    if (f.suggestedMitigation) {
      lines.push(`   suggested mitigation: ${f.suggestedMitigation.sysctls.map((s) => `${s.name}=${s.value}`).join(', ')}`);
    }
    return lines.join('\n');
  });
  return `${table(headers, rows)}\n\n${details.join('\n\n')}`;
}

function summaryText(outcome: CaptureOutcome): string {
  if (outcome.state !== 'Succeeded') return outcome.message ?? outcome.reason ?? '';
  return Object.entries(outcome.summary)
    .slice(0, 4)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

export function renderCaptures(captures: CaptureOutcome[]): string {
  return table(
    ['capture', 'status', 'findings', 'summary'],
    captures.map((c) => [c.name, c.state === 'Succeeded' ? c.state : `${c.state} (${c.reason})`, c.findings.length, summaryText(c)]),
  );
}

export function renderArtifacts(report: NodeReport, outDir: string): string {
  if (report.artifacts.length === 0) return '';
  return `Artifacts in ${outDir}:\n${report.artifacts.map((a) => `  ${a.name} (${formatBytes(a.sizeBytes)})`).join('\n')}`;
}

/** One capture's outcome as --json prints it. */
export function captureJson(c: CaptureOutcome): object {
  return { name: c.name, kind: c.kind, status: c.state, reason: c.reason, message: c.message, summary: c.summary, findings: c.findings.length };
}

/** The machine-readable report for --json. */
export function jsonReport(report: NodeReport, facts: object, outDir: string): object {
  return {
    node: facts,
    durationSeconds: report.durationSeconds,
    startTime: report.startTime,
    completionTime: report.completionTime,
    captures: report.captures.map(captureJson),
    findings: report.findings,
    artifacts: report.artifacts.map((a) => ({ ...a, path: `${outDir}/${a.name}` })),
  };
}
