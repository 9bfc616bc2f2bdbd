import { cpuProfileParams, slabParams } from '../../api/v1alpha1/captures.js';
import type { Finding } from '../../api/v1alpha1/finding.js';
import { formatBytes } from '../../lib/findings.js';
import { analyzeBundle } from '../../node-agent/captures/bundle/analyze.js';
import type { Manifest } from '../../node-agent/captures/bundle/manifest.js';
import { parseBundle, parseKernelConfig } from '../../node-agent/captures/bundle/parse.js';
import { analyzeCpuProfile } from '../../node-agent/captures/cpu-profile/analyze.js';
import { analyzeKernelLog } from '../../node-agent/captures/kernel-log/analyze.js';
import { type KernelLogFormat, kernelLogFormats, parseKernelLogText } from '../../node-agent/captures/kernel-log/log-text.js';
import { loadRulesFile, shippedRulesFile, type KernelLogRule } from '../../node-agent/patterns/kernel-log/rules.js';
import { analyzeMemory } from '../../node-agent/captures/memory/analyze.js';
import { parseMemory } from '../../node-agent/captures/memory/parse.js';
import { analyzeSlab } from '../../node-agent/captures/slab/analyze.js';
import { parseSlab } from '../../node-agent/captures/slab/parse.js';
import type { CaptureAnalysis, Summary } from '../../node-agent/engine/capture.js';
import { collapsePerfScript } from '../../node-agent/flamegraph/collapse-stream.js';
import { decodeBytes, type FoldedStack, parseFolded } from '../../node-agent/flamegraph/folded.js';
import type { Input } from './inputs.js';

/**
 * The capture modules' own parse and analyze functions, fed from recorded inputs instead of a
 * live run. Each returns what a capture returns: a summary and findings. Pure, but for the
 * shipped kernel-log rules file, read once.
 */

let rules: KernelLogRule[] | undefined;
function shippedRules(): KernelLogRule[] {
  rules ??= loadRulesFile(shippedRulesFile);
  return rules;
}

export function analyzeKernelLogText(input: Input, format: KernelLogFormat): CaptureAnalysis {
  const text = parseKernelLogText(input.text, format);
  const analysis = analyzeKernelLog(
    { sinceBoot: false, records: text.records, capped: false, lost: 0, scope: 'in the log', levelsKnown: text.levelsKnown },
    shippedRules(),
  );
  const summary: Summary = { format: kernelLogFormats[format], ...analysis.summary, skippedLines: text.skippedLines };
  delete summary.capped;
  delete summary.lostRecords;
  if (text.firstSkipped) summary.firstSkippedLine = text.firstSkipped.slice(0, 200);
  return { summary, findings: analysis.findings };
}

/**
 * Slab caches from one or more /proc/slabinfo snapshots of one machine, oldest first. One snapshot
 * shows the largest caches, not growth; two show growth (a rate when their times are known); a
 * slab-growth finding needs three or more, so that steady growth is told from one burst.
 */
export function analyzeSlabSnapshots(snapshots: Input[], memTotalKb: number | undefined): CaptureAnalysis {
  const ordered = [...snapshots].sort((a, b) => (a.mtimeMs ?? 0) - (b.mtimeMs ?? 0) || a.name.localeCompare(b.name));
  const times = ordered.map((s) => s.mtimeMs);
  const timed = times.every((t) => t !== undefined) && new Set(times).size === times.length;
  const spanMs = timed && ordered.length > 1 ? ordered.at(-1)!.mtimeMs! - ordered[0]!.mtimeMs! : 0;
  const parsed = parseSlab({
    // Snapshots taken by hand are not evenly spaced: the mean interval, or 0 when unknown.
    intervalSeconds: spanMs > 0 ? Number((spanMs / 1000 / (ordered.length - 1)).toFixed(1)) : 0,
    pageSizeBytes: 4096,
    ...(memTotalKb !== undefined ? { memTotalKb } : {}),
    readings: ordered.map((s, i) => ({ atMs: timed ? s.mtimeMs! : i, data: s.text })),
  });
  const params = slabParams.parse({});
  const analysis = analyzeSlab(parsed, params);
  const summary: Summary = { snapshots: ordered.length, ...analysis.summary };
  delete summary.readings;
  if (!timed || ordered.length === 1) {
    delete summary.intervalSeconds;
    delete summary.windowSeconds;
  }
  const last = parsed.readings.at(-1)!;
  summary.largestCaches = [...last.caches]
    .sort((a, b) => b.numObjs * b.objSize - a.numObjs * a.objSize)
    .slice(0, 5)
    .map((c) => `${c.name} ${formatBytes(c.numObjs * c.objSize)}`)
    .join(', ');
  summary.note =
    ordered.length === 1
      ? 'one snapshot shows the largest caches now, not whether they grow: take another later (a slab-growth finding needs three, so that steady growth is told from a burst)'
      : ordered.length === 2
        ? `two snapshots show growth${timed ? ' and its rate' : ' but no rate (their files carry no distinct times)'}; a slab-growth finding needs three or more, so that steady growth is told from a burst`
        : timed
          ? 'snapshots ordered by their modification times'
          : 'snapshots ordered by name (their files carry no distinct times): growth without a rate';
  return { summary, findings: analysis.findings };
}

function kernelMarked(stacks: FoldedStack[]): boolean {
  return stacks.some((s) => s.frames.some((f) => f.endsWith('_[k]')));
}

export interface ProfileResult extends CaptureAnalysis {
  stacks: FoldedStack[];
}

/** Kernel CPU hotspots from `perf script` text (folded with kernel and JIT marks) or folded stacks. */
export function analyzeProfile(input: Input, kind: 'perf-script' | 'folded-stacks'): ProfileResult {
  const params = cpuProfileParams.parse({});
  let stacks: FoldedStack[];
  const extra: Summary = {};
  if (kind === 'perf-script') {
    const collapser = collapsePerfScript(input.text, { all: true });
    stacks = parseFolded(decodeBytes(collapser.foldedText()));
    if (collapser.report.unrecognizedLines > 0) extra.unrecognizedLines = collapser.report.unrecognizedLines;
    if (collapser.report.event) extra.event = collapser.report.event;
  } else {
    stacks = parseFolded(input.text);
    if (!kernelMarked(stacks)) {
      extra.note = 'no "_[k]" marks: kernel frames cannot be told from user frames; fold perf script with --all (ksleuth flamegraph collapse --all)';
    }
  }
  const analysis = analyzeCpuProfile({ stacks, frequencyHz: 0, truncated: false }, params);
  const summary: Summary = { ...analysis.summary, ...extra };
  delete summary.frequencyHz;
  return { summary, findings: analysis.findings, stacks };
}

/** The page size the kernel was built with, from its config (4 KiB unless it says otherwise). */
function pageSizeOf(kernelConfig: string | undefined): number {
  const config = kernelConfig ? parseKernelConfig(kernelConfig) : {};
  if (config.CONFIG_ARM64_64K_PAGES === 'y' || config.CONFIG_PPC_64K_PAGES === 'y') return 65536;
  if (config.CONFIG_ARM64_16K_PAGES === 'y') return 16384;
  return 4096;
}

/** Fragmentation and allocation stalls from one reading of buddyinfo (and meminfo, vmstat, pagetypeinfo, zoneinfo when present). */
export function analyzeMemorySnapshot(
  files: Partial<Record<'buddyinfo' | 'meminfo' | 'vmstat' | 'pagetypeinfo' | 'zoneinfo' | 'kernelConfig' | 'sysctl', string>>,
): CaptureAnalysis {
  const minFree = files.sysctl ? /^vm\.min_free_kbytes\s*=\s*(\d+)$/m.exec(files.sysctl)?.[1] : undefined;
  const parsed = parseMemory({
    intervalSeconds: 0,
    pageSizeBytes: pageSizeOf(files.kernelConfig),
    readings: [{ atMs: 0, data: { buddyinfo: files.buddyinfo ?? '', vmstat: files.vmstat ?? '', meminfo: files.meminfo ?? '' } }],
    ...(files.pagetypeinfo ? { pagetypeinfo: files.pagetypeinfo } : {}),
    ...(files.zoneinfo ? { zoneinfo: files.zoneinfo } : {}),
    ...(minFree ? { minFreeKbytes: minFree } : {}),
  });
  const analysis = analyzeMemory(parsed);
  const summary: Summary = { ...analysis.summary, note: 'one reading: fragmentation as it was; allocation stalls need two readings taken apart' };
  delete summary.readings;
  delete summary.intervalSeconds;
  delete summary.windowSeconds;
  return { summary, findings: analysis.findings };
}

/** What a bundle holds: its manifest and the summary its capture gives (kernel, CPU, config highlights). */
export function analyzeBundleManifest(manifest: Manifest, excerpts: Record<string, string>): CaptureAnalysis {
  const analysis = analyzeBundle(parseBundle({ manifest, archiveBytes: 0, excerpts }));
  const summary: Summary = { host: manifest.hostname, createdAt: manifest.createdAt, ...analysis.summary };
  delete summary.archiveBytes;
  return { summary, findings: analysis.findings as Finding[] };
}
