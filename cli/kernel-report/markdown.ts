import { relative } from 'node:path';
import { stringify } from 'yaml';
import { captureEntryFor, resolveCaptureEntry } from '../../api/v1alpha1/capture-entry.js';
import type { AggregatedFinding } from '../../api/v1alpha1/finding.js';
import type { PodWorkload } from '../../api/v1alpha1/workload-pod.js';
import { reproducerOf, resolveWorkload, workloadKinds } from '../../api/v1alpha1/workloads.js';
import type { KernelCapture, KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { formatBytes } from '../../lib/findings.js';
import { deriveKernelRange } from '../../lib/kernel/derive-range.js';
import { parseProcVersion, refineRelease } from '../../lib/kernel/proc-version.js';
import { parseKernelRelease, upstreamText } from '../../lib/kernel/release.js';
import { decodeTainted } from '../../lib/kernel/tainted.js';
import { kernelHighlights, parseKernelConfig, parseLscpu } from '../../node-agent/captures/bundle/parse.js';
import type { BundleContents } from '../offline/bundle-archive.js';

/** One artifact of the investigation, and where it was downloaded to, if it was. */
export interface ReportArtifact {
  node: string;
  name: string;
  sizeBytes: number;
  sha256: string;
  localPath?: string;
}

export interface KernelReportInput {
  investigation: KernelInvestigation;
  captures: KernelCapture[];
  /** The bundle of each node whose bundle artifact was downloaded. */
  bundles: Map<string, BundleContents>;
  artifacts: ReportArtifact[];
  /** Where the report is written: links to artifacts are relative to it. */
  outDir: string;
  generatedAt: Date;
  ksleuthVersion: string;
}

/** The markers around the section that reproducer runs fill in; tools may replace what is between them. */
export const reproducerBegin = '<!-- ksleuth:reproducer:begin -->';
export const reproducerEnd = '<!-- ksleuth:reproducer:end -->';

const cell = (text: string | number | undefined): string =>
  String(text ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ');
const code = (text: string): string => `\`${text.replace(/`/g, "'")}\``;

function mdTable(headers: string[], rows: (string | number | undefined)[][]): string {
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

function fence(text: string, lang = ''): string {
  const body = text.replace(/\n+$/, '');
  const ticks = body.includes('```') ? '````' : '```';
  return `${ticks}${lang}\n${body}\n${ticks}`;
}

function kernelOf(capture: KernelCapture): string | undefined {
  return capture.status?.kernelVersion;
}

function describeRelease(release: string, procVersion?: string): string {
  const parsed = parseKernelRelease(release);
  if (!parsed) return 'not a kernel release';
  const refined = refineRelease(parsed, procVersion ? parseProcVersion(procVersion) : undefined);
  return `${refined.label}, upstream ${upstreamText(refined.upstream)}`;
}

function summarySection(input: KernelReportInput): string[] {
  const { investigation } = input;
  const status = investigation.status ?? {};
  const nodes = [...new Set(input.captures.map((c) => c.spec.nodeName))].sort();
  const complete = status.conditions?.find((c) => c.type === 'Complete');
  return [
    `# Kernel investigation ${investigation.metadata.name}`,
    '',
    ...(investigation.spec.description ? [`> ${investigation.spec.description}`, ''] : []),
    mdTable(
      ['', ''],
      [
        ['Phase', `${status.phase ?? 'Pending'}${complete ? ` (${complete.message})` : ''}`],
        ['Nodes', `${status.progress ?? '-'}: ${nodes.join(', ') || 'none'}`],
        ['Captures', investigation.spec.captures.map((c) => resolveCaptureEntry(c).kind).join(', ')],
        ['Capture window', `${investigation.spec.durationSeconds} s`],
        ['Started', status.startTime ?? '-'],
        ['Completed', status.completionTime ?? '-'],
        ['Findings', `${status.findingCount ?? 0} (most severe: ${status.highestSeverity ?? 'none'})`],
        ['Report', `ksleuth ${input.ksleuthVersion}, ${input.generatedAt.toISOString()}`],
      ],
    ),
  ];
}

function kernelsSection(input: KernelReportInput): string[] {
  const byKernel = new Map<string, KernelCapture[]>();
  for (const c of input.captures) {
    const kernel = kernelOf(c) ?? 'unknown';
    byKernel.set(kernel, [...(byKernel.get(kernel) ?? []), c]);
  }
  const lines = ['', '## Kernels', ''];
  lines.push(
    mdTable(
      ['kernel release', 'distribution', 'nodes', 'findings seen there'],
      [...byKernel].map(([kernel, captures]) => [
        code(kernel),
        describeRelease(kernel, captures.map((c) => input.bundles.get(c.spec.nodeName)?.items.get('proc-version.txt')).find(Boolean)),
        captures
          .map((c) => c.spec.nodeName)
          .sort()
          .join(', '),
        [...new Set(captures.flatMap((c) => c.status?.findings?.map((f) => f.pattern) ?? []))].sort().join(', ') || '-',
      ]),
    ),
  );
  // One bundle per kernel build: nodes running the same build tell the same story.
  const shown = new Set<string>();
  for (const [node, bundle] of [...input.bundles].sort(([a], [b]) => a.localeCompare(b))) {
    const key = `${bundle.manifest.kernelRelease}\n${bundle.items.get('proc-version.txt') ?? ''}`;
    if (shown.has(key)) continue;
    shown.add(key);
    const same = [...input.bundles]
      .filter(([n, b]) => n !== node && `${b.manifest.kernelRelease}\n${b.items.get('proc-version.txt') ?? ''}` === key)
      .map(([n]) => n);
    lines.push('', ...bundleSection(node, bundle, same, input.outDir));
  }
  if (input.bundles.size === 0) {
    lines.push(
      '',
      input.investigation.spec.captures.some((c) => resolveCaptureEntry(c).kind === 'bundle')
        ? `_No bundle is downloaded next to this report: \`ksleuth artifacts get ${input.investigation.metadata.name} --out ${input.outDir}\`, then run \`ksleuth report\` again for each kernel's /proc/version, command line, taint and config._`
        : '_The investigation took no bundle: add the `bundle` capture for each kernel’s /proc/version, command line, taint and config._',
    );
  }
  return lines;
}

function bundleSection(node: string, bundle: BundleContents, sameBuild: string[], outDir: string): string[] {
  const item = (file: string) => bundle.items.get(file)?.trim();
  const lines = [`### Kernel of ${node}${sameBuild.length ? ` (also ${sameBuild.join(', ')})` : ''}: ${code(bundle.manifest.kernelRelease)}`, ''];
  lines.push(`From the bundle ${code(relative(outDir, bundle.path) || bundle.path)}, taken ${bundle.manifest.createdAt} on ${bundle.manifest.hostname}.`, '');
  const uname = item('uname.txt');
  const version = item('proc-version.txt');
  if (uname) lines.push('`uname -a`:', '', fence(uname), '');
  if (version) {
    lines.push('`/proc/version`:', '', fence(version), '');
    const parsed = parseProcVersion(version);
    if (parsed?.debianPackage) lines.push(`Debian package ${code(parsed.debianPackage)}: ${describeRelease(parsed.release, version)}.`, '');
  }
  const cmdline = item('cmdline.txt');
  if (cmdline) lines.push('Kernel command line:', '', fence(cmdline), '');
  const taint = item('tainted.txt') ? decodeTainted(item('tainted.txt')!) : undefined;
  if (taint) {
    lines.push(
      taint.value === 0 ? '**Not tainted** (`/proc/sys/kernel/tainted` is 0).' : `**Tainted: ${taint.letters}** (${taint.value}): ${taint.reasons.join('; ')}.`,
      '',
    );
  }
  const config = item('kernel-config.txt');
  if (config) {
    const h = kernelHighlights(parseKernelConfig(config));
    lines.push(
      mdTable(
        ['kernel config', ''],
        [
          ['preemption', h.preemption ?? 'not set'],
          ['HZ', h.hz ?? '-'],
          ['BTF', h.btf ? 'yes' : 'no'],
          ['kprobes', h.kprobes ? 'yes' : 'no'],
          ['function graph tracer', h.functionGraphTracer ? 'yes' : 'no'],
          ['debugging options', h.debugOptions.join(', ') || 'none'],
        ],
      ),
      '',
      `The whole config is ${code('kernel-config.txt')} in the bundle (${bundle.manifest.files.find((f) => f.file === 'kernel-config.txt')?.source ?? 'kernel config'}).`,
      '',
    );
  }
  const cpu = parseLscpu(item('lscpu.txt') ?? '');
  if (cpu['Model name']) {
    lines.push(`CPU: ${cpu['Model name']}, ${cpu['CPU(s)'] ?? '?'} CPUs${cpu['Hypervisor vendor'] ? `, hypervisor ${cpu['Hypervisor vendor']}` : ''}.`, '');
  }
  const missing = bundle.manifest.files.filter((f) => f.error !== undefined);
  if (missing.length > 0) lines.push(`Not collected: ${missing.map((f) => `${code(f.file)} (${f.error})`).join('; ')}.`, '');
  return lines.slice(0, lines.at(-1) === '' ? -1 : undefined);
}

function findingSection(f: AggregatedFinding, index: number): string[] {
  const lines = [
    `### ${index}. ${f.title}`,
    '',
    `**${f.severity}**, pattern ${code(f.pattern)}${f.capture ? `, capture ${code(f.capture)}` : ''}; seen on ${f.nodes.count} node${f.nodes.count === 1 ? '' : 's'} (${f.nodes.examples.join(', ')}).`,
    '',
  ];
  if (f.evidence.length > 0) lines.push(fence(f.evidence.join('\n')), '');
  lines.push(`Recommendation: ${f.recommendation}`);
  if (f.suggestedMitigation) {
    lines.push(
      '',
      `Suggested mitigation: ${f.suggestedMitigation.sysctls.map((s) => code(`${s.name}=${s.value}`)).join(', ')}${f.suggestedMitigation.reason ? ` — ${f.suggestedMitigation.reason}` : ''}`,
    );
  }
  return lines;
}

function findingsSection(input: KernelReportInput): string[] {
  const findings = input.investigation.status?.findings ?? [];
  const lines = ['', '## Findings', ''];
  if (findings.length === 0) return [...lines, 'No findings.'];
  findings.forEach((f, i) => {
    lines.push(...findingSection(f, i + 1), '');
  });
  return lines.slice(0, -1);
}

function comparisonSection(input: KernelReportInput): string[] {
  const reported = input.captures.filter((c) => c.status?.phase === 'Succeeded' && kernelOf(c));
  const kernels = [...new Set(reported.map((c) => kernelOf(c)!))];
  if (kernels.length < 2) return [];
  const patterns = [...new Set(reported.flatMap((c) => c.status?.findings?.map((f) => f.pattern) ?? []))].sort();
  const lines = ['', '## Comparison across kernels', ''];
  lines.push(
    mdTable(
      ['kernel release', 'nodes', ...patterns.map(code)],
      kernels.map((k) => {
        const here = reported.filter((c) => kernelOf(c) === k);
        return [
          code(k),
          here.length,
          ...patterns.map((p) => {
            const seen = here.filter((c) => c.status?.findings?.some((f) => f.pattern === p)).length;
            return seen === 0 ? 'no' : `yes (${seen}/${here.length})`;
          }),
        ];
      }),
    ),
  );
  for (const pattern of patterns) {
    const derived = deriveKernelRange(
      kernels.map((k) => ({ release: k, seen: reported.some((c) => kernelOf(c) === k && c.status?.findings?.some((f) => f.pattern === pattern)) })),
    );
    lines.push(
      '',
      `- ${code(pattern)}: ${derived.statement}.${derived.range ? ` As a KernelMitigation range: ${code(derived.range)}` : ' No kernel range follows from this.'}`,
    );
  }
  lines.push(
    '',
    'Kernels are ordered by their distribution’s own numbers within a distribution, and across distributions only by upstream version: backports make any further ordering unsafe.',
  );
  return lines;
}

/** The figures of the reproducer on each node that ran it, from its result (kind tcp-churn, fs-sync or socket-leak). */
function reproducerFigures(input: KernelReportInput, kind: string): string[] {
  const shown = [
    'connections',
    'files',
    'succeeded',
    'failed',
    'timeouts',
    'errors',
    'failurePercent',
    'p50Ms',
    'p99Ms',
    'maxMs',
    'perSecond',
    'closeWaitSockets',
  ];
  const rows = input.captures
    .map((c) => ({ node: c.spec.nodeName, kernel: kernelOf(c), result: c.status?.results?.find((r) => r.kind === kind) }))
    .filter((r) => r.result)
    .sort((a, b) => a.node.localeCompare(b.node));
  if (rows.length === 0) return ['_No node reported the reproducer’s figures._'];
  const keys = shown.filter((k) => rows.some((r) => r.result!.summary?.[k] !== undefined));
  return [
    mdTable(
      ['node', 'kernel release', 'state', ...keys],
      rows.map((r) => [r.node, r.kernel ? code(r.kernel) : '-', r.result!.state, ...keys.map((k) => String(r.result!.summary?.[k] ?? '-'))]),
    ),
  ];
}

function reproduceSection(input: KernelReportInput): string[] {
  const { investigation } = input;
  const captures = investigation.spec.captures.map((entry) => {
    const resolved = resolveCaptureEntry(entry);
    return captureEntryFor(resolved.kind, resolved.params as Record<string, unknown>, resolved.name !== resolved.kind ? resolved.name : undefined);
  });
  const spec = { ...investigation.spec };
  const kinds = [...new Set(investigation.spec.captures.map((c) => resolveCaptureEntry(c).kind))];
  const builtIn = reproducerOf(investigation.spec.workload);
  const workload = builtIn ? resolveWorkload(builtIn) : undefined;
  const pod = investigation.spec.workload?.pod;
  const reproducer = pod
    ? podWorkloadLines(input, pod)
    : workload
      ? [
          `The built-in reproducer ${code(workload.kind)} ran on every node for the ${investigation.spec.durationSeconds} s capture window, beside the captures, with these parameters (defaults filled in):`,
          '',
          fence(stringify({ workload: { [workloadKinds[workload.kind].field]: workload.params } }, { lineWidth: 0 }), 'yaml'),
          '',
          'Its figures on each node (failurePercent counts operations that failed, timed out or were slow; latencies are upper bounds of log2 buckets):',
          '',
          ...reproducerFigures(input, workload.kind),
          '',
          'What was captured meanwhile, with every parameter:',
        ]
      : ['_No reproducer ran during the captures: the investigation names no workload._ What was captured, with every parameter:'];
  return [
    '',
    '## How to reproduce',
    '',
    reproducerBegin,
    ...reproducer,
    '',
    fence(stringify({ durationSeconds: investigation.spec.durationSeconds, captures }, { lineWidth: 0 }), 'yaml'),
    '',
    `To ${workload || pod ? 'run the reproducer and ' : ''}capture the same on a cluster again:`,
    '',
    fence(
      `kubectl apply -f - <<'EOF'\n${stringify(
        { apiVersion: investigation.apiVersion, kind: 'KernelInvestigation', metadata: { name: `${investigation.metadata.name}-again` }, spec },
        { lineWidth: 0 },
      )}EOF`,
      'sh',
    ),
    '',
    `or on one Linux machine, without a cluster${workload ? ' (the captures only: the reproducer runs in the agent)' : pod ? ' (the captures only: run the Pod’s command beside them)' : ''}:`,
    '',
    fence(`sudo ksleuth investigate --local --capture ${kinds.join(',')} --duration ${investigation.spec.durationSeconds}s`, 'sh'),
    reproducerEnd,
  ];
}

/** The Pod template that ran on every node, and how its Pods ended (status.workloadPods). */
function podWorkloadLines(input: KernelReportInput, pod: PodWorkload): string[] {
  const pods = input.investigation.status?.workloadPods;
  const ended = (pods?.pods ?? []).map(
    (p) =>
      `- ${code(p.node)}: ${p.state}${p.exitCode !== undefined ? `, exit code ${p.exitCode}` : ''}${p.reason ? ` (${p.reason})` : ''}${
        p.lastLines?.length ? `; last lines:\n\n${fence(p.lastLines.join('\n'), 'text')}` : ''
      }`,
  );
  return [
    `A Pod from this template ran on every node for the ${input.investigation.spec.durationSeconds} s capture window, beside the captures:`,
    '',
    fence(stringify({ workload: { pod } }, { lineWidth: 0 }), 'yaml'),
    '',
    ...(pods
      ? [
          `Pods: ${pods.succeeded} succeeded, ${pods.failed} failed, ${pods.deadlineExceeded} stopped at the window's end, ${pods.pending + pods.running + pods.missing} did not run to an end.`,
          '',
          ...ended,
          '',
        ]
      : []),
    'What was captured meanwhile, with every parameter:',
  ];
}

/** What changed against the baseline (spec.baseline, docs/baselines.md): the strongest sign that the workload, not the node, made the difference. */
function baselineSection(input: KernelReportInput): string[] {
  const baseline = input.investigation.status?.baseline;
  if (!baseline) return [];
  const lines = ['', '## Against the baseline', '', `Baseline: ${baseline.source}.${baseline.summary ? ` ${baseline.summary}.` : ''}`];
  if (baseline.changed?.length) lines.push('', ...baseline.changed.map((c) => `- ${c.statement}`));
  const rows = [
    ...(baseline.appeared ?? []).map((f) => ['only with the workload', code(f.pattern), f.severity, f.nodes, f.title]),
    ...(baseline.gone ?? []).map((f) => ['only in the baseline', code(f.pattern), f.severity, f.nodes, f.title]),
  ];
  if (rows.length > 0) lines.push('', mdTable(['seen', 'pattern', 'severity', 'nodes', 'title'], rows));
  return lines;
}

function artifactsSection(input: KernelReportInput): string[] {
  const lines = ['', '## Artifacts', ''];
  if (input.artifacts.length === 0) return [...lines, 'No artifacts.'];
  lines.push(
    mdTable(
      ['node', 'file', 'size', 'sha256', 'here'],
      input.artifacts.map((a) => {
        const local = a.localPath ? relative(input.outDir, a.localPath) : undefined;
        return [a.node, code(a.name), formatBytes(a.sizeBytes), code(a.sha256.slice(0, 16)), local ? `[${local}](${encodeURI(local)})` : 'not downloaded'];
      }),
    ),
  );
  if (input.artifacts.some((a) => !a.localPath)) {
    lines.push('', `Download them, checked against their sha256: \`ksleuth artifacts get ${input.investigation.metadata.name} --out ${input.outDir}\``);
  }
  return lines;
}

function nodesSection(input: KernelReportInput): string[] {
  const sorted = [...input.captures].sort((a, b) => a.spec.nodeName.localeCompare(b.spec.nodeName));
  return [
    '',
    '## Nodes',
    '',
    mdTable(
      ['node', 'kernel', 'phase', 'findings', 'captures'],
      sorted.map((c) => [
        c.spec.nodeName,
        code(kernelOf(c) ?? 'unknown'),
        c.status?.phase ?? 'Pending',
        c.status?.findingCount ?? 0,
        (c.status?.results ?? []).map((r) => `${r.name}: ${r.state}${r.reason ? ` (${r.reason})` : ''}`).join(', ') || c.status?.message || '-',
      ]),
    ),
  ];
}

/**
 * A Markdown report for kernel developers: the kernels (release, distribution, /proc/version,
 * command line, taint, config from the bundle), the findings with their evidence, the comparison
 * across kernels with the range it supports, how to reproduce (between reproducerBegin and
 * reproducerEnd), and the artifacts. Pure.
 */
export function renderKernelReport(report: KernelReportInput): string {
  // The baseline window's captures (spec.baseline.run) are in status.baseline; the rest is about the workload window.
  const input = { ...report, captures: report.captures.filter((c) => !c.spec.baseline) };
  return `${[
    ...summarySection(input),
    ...kernelsSection(input),
    ...findingsSection(input),
    ...comparisonSection(input),
    ...baselineSection(input),
    ...reproduceSection(input),
    ...artifactsSection(input),
    ...nodesSection(input),
  ].join('\n')}\n`;
}
