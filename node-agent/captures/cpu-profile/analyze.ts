import { findingPods } from '../../engine/workload.js';
import type { CaptureParams } from '../../../api/v1alpha1/captures.js';
import type { Finding, Severity } from '../../../api/v1alpha1/finding.js';
import type { CaptureAnalysis, Summary } from '../../engine/capture.js';
import { evidence, severityRank } from '../../../lib/findings.js';
import { profileStacks, type CpuProfile, type HotPathId } from './profile.js';
import type { ParsedCpuProfile } from './parse.js';
import { subsystemAdvice, subsystemLabel } from './subsystems.js';

/** When the figures mean something is wrong. Shares are of busy (non-idle) samples. */
export const hotspotThresholds = {
  /** Fewer busy samples than this (half a CPU-second at 99 Hz) say too little to judge. */
  minBusySamples: 50,
  kernelShare: 0.5,
  oneFunctionShare: 0.2,
  hotPaths: {
    'rcu-callbacks': { warning: 0.1, critical: 0.25 },
    'lock-contention': { warning: 0.1, critical: 0.25 },
    reclaim: { warning: 0.1, critical: 0.25 },
    compaction: { warning: 0.1, critical: 0.25 },
    printk: { warning: 0.05, critical: 0.2 },
  } satisfies Record<HotPathId, { warning: number; critical: number }>,
};

const hotPathText: Record<HotPathId, { title: string; what: string; advice: string }> = {
  'rcu-callbacks': {
    title: 'RCU callbacks take an outsized share of CPU',
    what: 'RCU callbacks (under rcu_do_batch/rcu_core)',
    advice:
      'RCU callbacks free objects after a grace period; a flood comes from mass freeing (deleting many files, tearing down network namespaces or devices, flushing routes). Look under rcu_do_batch in the flame graph for what is freed and find who frees it; offload callbacks from busy CPUs (rcu_nocbs=) and check the kernel-log capture for RCU stalls.',
  },
  'lock-contention': {
    title: 'Lock contention takes an outsized share of CPU',
    what: 'spinning or sleeping on contended locks (queued spin lock / mutex / rwsem slow paths)',
    advice:
      'The frames under the slow path name the lock and its callers. One lock contended across CPUs is a typical kernel scalability bug: search the kernel changelog for the caller, and meanwhile spread the load (fewer threads on the hot object, per-CPU or sharded resources).',
  },
  reclaim: {
    title: 'Memory reclaim takes an outsized share of CPU',
    what: 'memory reclaim (shrink_node/try_to_free_pages)',
    advice:
      'Direct reclaim makes allocating tasks do the freeing. Run the memory capture (allocation stalls, fragmentation) and the slab capture; a larger vm.min_free_kbytes or vm.watermark_scale_factor lets kswapd start earlier.',
  },
  compaction: {
    title: 'Memory compaction takes an outsized share of CPU',
    what: 'memory compaction (compact_zone)',
    advice:
      'High-order allocations on fragmented memory trigger compaction. Run the memory capture for the fragmentation index and see which allocations need high orders (the kmalloc capture).',
  },
  printk: {
    title: 'Kernel logging takes an outsized share of CPU',
    what: 'printing kernel messages (printk to the console)',
    advice:
      'A flood of kernel messages written to a slow console. Read the kernel log (kernel-log capture) for the source, and lower the console log level so fewer messages reach the console.',
  },
};

interface Cause {
  severity: Severity;
  title: string;
  evidence: string;
  advice: string;
}

const pct = (part: number, whole: number): string => `${whole > 0 ? ((100 * part) / whole).toFixed(1) : '0.0'}%`;
const sentence = (text: string): string => (text.endsWith('.') ? text : `${text}.`);
const clip = (text: string, max = 300): string => (text.length > max ? `${text.slice(0, max - 3)}...` : text);

function causes(profile: CpuProfile): Cause[] {
  const busy = profile.busySamples;
  const found: Cause[] = [];
  for (const path of profile.hotPaths) {
    const limits = hotspotThresholds.hotPaths[path.id];
    const share = path.samples / busy;
    if (share < limits.warning) continue;
    const text = hotPathText[path.id];
    found.push({
      severity: share >= limits.critical ? 'critical' : 'warning',
      title: text.title,
      evidence: `${text.what}: ${pct(path.samples, busy)} of busy CPU samples (${path.samples} of ${busy}); hottest: ${clip(path.hottestStack)} (${path.hottestStackSamples})`,
      advice: text.advice,
    });
  }
  const top = profile.kernelFunctions[0];
  if (top && top.samples / busy >= hotspotThresholds.oneFunctionShare) {
    found.push({
      severity: 'warning',
      title: `One kernel function takes an outsized share of CPU: ${top.name}`,
      evidence: `${top.name} (${subsystemLabel(top.subsystem)}) is the leaf of ${pct(top.samples, busy)} of busy CPU samples (${top.samples} of ${busy})`,
      advice: subsystemAdvice(top.subsystem) ?? 'Look at its callers in the flame graph.',
    });
  }
  if (profile.kernelSamples / busy >= hotspotThresholds.kernelShare) {
    const subsystem = profile.subsystems[0];
    found.push({
      severity: 'warning',
      title: 'Kernel code takes most of the busy CPU time',
      evidence: `kernel: ${pct(profile.kernelSamples, busy)} of busy CPU samples (${profile.kernelSamples} of ${busy}; idle excluded)${subsystem ? `, most of it ${subsystemLabel(subsystem.id)}` : ''}`,
      advice: (subsystem && subsystemAdvice(subsystem.id)) ?? 'Look at the hottest kernel stacks in the flame graph.',
    });
  }
  return found.sort((a, b) => severityRank[b.severity] - severityRank[a.severity]);
}

/** The processes with the most samples of `figure`, each with its pod and container where the capture named them. */
function topProcesses(profile: CpuProfile, parsed: ParsedCpuProfile, figure: 'busySamples' | 'kernelSamples', count: number): string {
  const busy = profile.busySamples;
  if (!parsed.processes) {
    if (figure === 'busySamples') return '';
    return profile.kernelProcesses
      .slice(0, count)
      .map((p) => `${p.name} ${pct(p.samples, busy)}`)
      .join(', ');
  }
  return [...parsed.processes]
    .filter((g) => g[figure] > 0)
    .sort((a, b) => b[figure] - a[figure])
    .slice(0, count)
    .map((g) => `${g.label} ${pct(g[figure], busy)}`)
    .join(', ');
}

/** The figures that back every cause: where kernel time goes, and for whom. */
function context(profile: CpuProfile, parsed: ParsedCpuProfile, topN: number): string[] {
  const busy = profile.busySamples;
  const lines = [
    `kernel functions (self): ${profile.kernelFunctions
      .slice(0, Math.min(topN, 5))
      .map((f) => `${f.name} ${pct(f.samples, busy)}`)
      .join(', ')}`,
    `kernel subsystems: ${profile.subsystems
      .slice(0, 5)
      .map((s) => `${subsystemLabel(s.id)} ${pct(s.samples, busy)}`)
      .join(', ')}`,
    `processes in kernel: ${topProcesses(profile, parsed, 'kernelSamples', 5)}`,
  ];
  if (profile.hottestKernelStack)
    lines.push(`hottest kernel stack (${profile.hottestKernelStack.samples} samples): ${clip(profile.hottestKernelStack.stack, 400)}`);
  return lines;
}

/**
 * One kernel-cpu-hotspot finding when the kernel, one kernel function, or a path known to go
 * wrong (RCU callbacks, lock contention, reclaim, compaction, printk) takes an outsized share of
 * the busy CPU time. Causes are folded into one finding, the most severe first.
 */
export function cpuProfileFindings(profile: CpuProfile, parsed: ParsedCpuProfile, topN: number): Finding[] {
  if (profile.busySamples < hotspotThresholds.minBusySamples) return [];
  const found = causes(profile);
  if (found.length === 0) return [];
  return [
    {
      pattern: 'kernel-cpu-hotspot',
      severity: found[0]!.severity,
      title: found[0]!.title,
      evidence: evidence([...found.map((c) => c.evidence), ...context(profile, parsed, topN)]),
      ...findingPods(
        [...(parsed.processes ?? [])]
          .filter((g) => g.kernelSamples > 0)
          .sort((a, b) => b.kernelSamples - a.kernelSamples)
          .slice(0, 5)
          .map((g) => g.workload),
      ),
      recommendation: clip(
        [
          ...[...new Set(found.map((c) => c.advice))].map(sentence),
          'The flame graph artifact (...-flamegraph.svg) shows the whole picture: search it for the functions named here.',
        ].join(' '),
        2048,
      ),
    },
  ];
}

export function cpuProfileSummary(profile: CpuProfile, parsed: ParsedCpuProfile, topN: number): Summary {
  const busy = profile.busySamples;
  const share = (n: number): number => (busy > 0 ? Math.round((1000 * n) / busy) / 10 : 0);
  const top = profile.kernelFunctions[0];
  const subsystem = profile.subsystems[0];
  return {
    frequencyHz: parsed.frequencyHz,
    totalSamples: profile.totalSamples,
    idleSamples: profile.idleSamples,
    busySamples: busy,
    kernelSamples: profile.kernelSamples,
    kernelSharePercent: share(profile.kernelSamples),
    userSharePercent: share(profile.userSamples),
    distinctStacks: parsed.stacks.length,
    ...(top ? { topKernelFunction: top.name, topKernelFunctionPercent: share(top.samples) } : {}),
    ...(subsystem ? { topKernelSubsystem: subsystemLabel(subsystem.id), topKernelSubsystemPercent: share(subsystem.samples) } : {}),
    topKernelFunctions: profile.kernelFunctions
      .slice(0, topN)
      .map((f) => `${f.name} ${share(f.samples)}%`)
      .join(', '),
    kernelSubsystems: profile.subsystems.map((s) => `${subsystemLabel(s.id)} ${share(s.samples)}%`).join(', '),
    kernelHotPaths: profile.hotPaths.map((h) => `${h.id} ${share(h.samples)}%`).join(', '),
    ...(parsed.processes
      ? { topProcesses: topProcesses(profile, parsed, 'busySamples', 5), topKernelProcesses: topProcesses(profile, parsed, 'kernelSamples', 5) }
      : {}),
    ...(parsed.truncated ? { truncated: true } : {}),
    ...(parsed.stoppedEarly ? { stoppedEarly: parsed.stoppedEarly } : {}),
  };
}

export function analyzeCpuProfile(parsed: ParsedCpuProfile, params: CaptureParams<'cpu-profile'>): CaptureAnalysis {
  const profile = profileStacks(parsed.stacks);
  return { summary: cpuProfileSummary(profile, parsed, params.topN), findings: cpuProfileFindings(profile, parsed, params.topN) };
}
