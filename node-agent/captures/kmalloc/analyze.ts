import type { CaptureParams } from '../../../api/v1alpha1/captures.js';
import type { Finding } from '../../../api/v1alpha1/finding.js';
import { histogramQuantile } from '../../engine/bpftrace-output.js';
import type { CaptureAnalysis, Summary } from '../../engine/capture.js';
import { evidence, formatBytes } from '../../../lib/findings.js';
import { findingPods, workloadText } from '../../engine/workload.js';
import type { KmallocParsed, PairUsage, Usage } from './parse.js';

const MiB = 1024 * 1024;

/** When one call site or process allocates at an outsized rate. */
export const rateHotspot = {
  /** Its share of all kmalloc bytes (or calls) in the window. */
  minShare: 0.25,
  bytesPerSecond: 32 * MiB,
  callsPerSecond: 100_000,
  criticalBytesPerSecond: 256 * MiB,
};

/** When a call site keeps what it allocates: allocated in the window and still not freed at its end. */
export const outstandingHotspot = {
  bytes: 16 * MiB,
  criticalBytes: 256 * MiB,
  /** Of what the site allocated in the window, this much is still held. */
  minShareKept: 0.5,
};

/** Findings of one kind are capped so that a storm does not crowd out the rest. */
const maxFindingsPerKind = 3;

function rate(value: number, seconds: number): number {
  return seconds > 0 ? value / seconds : 0;
}

function perSecond(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function share(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}

function percent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}

function usageLine(label: string, usage: Usage, total: Usage, seconds: number): string {
  return (
    `${label}: ${formatBytes(usage.bytes)} in ${seconds.toFixed(1)} s (${formatBytes(rate(usage.bytes, seconds))}/s, ` +
    `${percent(share(usage.bytes, total.bytes))} of all kmalloc bytes), ${usage.calls.toLocaleString('en-US')} calls ` +
    `(${perSecond(rate(usage.calls, seconds))}/s, ${percent(share(usage.calls, total.calls))} of calls)`
  );
}

function isRateHotspot(usage: Usage, total: Usage, seconds: number): boolean {
  if (seconds <= 0) return false;
  const bytesHot = rate(usage.bytes, seconds) >= rateHotspot.bytesPerSecond && share(usage.bytes, total.bytes) >= rateHotspot.minShare;
  const callsHot = rate(usage.calls, seconds) >= rateHotspot.callsPerSecond && share(usage.calls, total.calls) >= rateHotspot.minShare;
  return bytesHot || callsHot;
}

function partnersOf(pairs: PairUsage[], pick: (p: PairUsage) => boolean, name: (p: PairUsage) => string): string {
  return pairs
    .filter(pick)
    .slice(0, 3)
    .map((p) => `${name(p)} ${formatBytes(p.bytes)}`)
    .join(', ');
}

/** "comm (pod shop/web-1 container app (Deployment/web))", "comm (host)", or the comm alone where the cgroup is unknown. */
function processLabel(parsed: KmallocParsed, process: { comm: string; cgroup: number }): string {
  const workload = parsed.workloads?.[process.cgroup];
  return workload ? `${process.comm} (${workloadText(workload)})` : process.comm;
}

function rateFindings(parsed: KmallocParsed): Finding[] {
  const seconds = parsed.windowSeconds;
  const findings: Finding[] = [];
  const severity = (usage: Usage): Finding['severity'] => (rate(usage.bytes, seconds) >= rateHotspot.criticalBytesPerSecond ? 'critical' : 'warning');
  for (const site of parsed.bySite.filter((s) => isRateHotspot(s, parsed.total, seconds)).slice(0, maxFindingsPerKind)) {
    const processes = partnersOf(
      parsed.byProcessAndSite,
      (p) => p.site === site.site,
      (p) => processLabel(parsed, p),
    );
    findings.push({
      pattern: 'kmalloc-hotspot',
      severity: severity(site),
      title: `Call site ${site.site} allocates ${formatBytes(rate(site.bytes, seconds))}/s with kmalloc`,
      evidence: evidence([
        usageLine(`call site ${site.site}`, site, parsed.total, seconds),
        ...(processes ? [`processes at this call site: ${processes}`] : []),
      ]),
      ...findingPods(
        parsed.byProcessAndSite
          .filter((p) => p.site === site.site)
          .slice(0, 3)
          .map((p) => parsed.workloads?.[p.cgroup]),
      ),
      recommendation:
        `Find what drives ${site.site}: the processes listed are where to start. A steady high rate from one call site ` +
        'often means a retry loop or per-packet/per-request allocation; compare with the slab capture (caches growing) ' +
        'and a cpu-profile capture of the same window.',
    });
  }
  for (const proc of parsed.byProcess.filter((p) => isRateHotspot(p, parsed.total, seconds)).slice(0, maxFindingsPerKind)) {
    const sites = partnersOf(
      parsed.byProcessAndSite,
      (p) => p.comm === proc.comm && p.cgroup === proc.cgroup,
      (p) => p.site,
    );
    const label = processLabel(parsed, proc);
    findings.push({
      pattern: 'kmalloc-hotspot',
      severity: severity(proc),
      title: `Process ${label} drives ${formatBytes(rate(proc.bytes, seconds))}/s of kmalloc`,
      evidence: evidence([usageLine(`process ${label}`, proc, parsed.total, seconds), ...(sites ? [`its call sites: ${sites}`] : [])]),
      ...findingPods([parsed.workloads?.[proc.cgroup]]),
      recommendation: `Look at what ${proc.comm} asks of the kernel (syscalls, sockets, files): its call sites tell which subsystem allocates on its behalf.`,
    });
  }
  return findings;
}

function outstandingFindings(parsed: KmallocParsed): Finding[] {
  const allocatedBySite = new Map(parsed.bySite.map((s) => [s.site, s.bytes]));
  return parsed.outstandingBySite
    .filter((o) => o.bytes >= outstandingHotspot.bytes && share(o.bytes, allocatedBySite.get(o.site) ?? o.bytes) >= outstandingHotspot.minShareKept)
    .slice(0, maxFindingsPerKind)
    .map((o): Finding => {
      const allocated = allocatedBySite.get(o.site) ?? 0;
      // With the map of live allocations full, frees of untracked allocations were not seen: the
      // figure may be inflated, so it is reported but not alarmed on.
      const severity: Finding['severity'] = parsed.untrackedAllocations > 0 ? 'info' : o.bytes >= outstandingHotspot.criticalBytes ? 'critical' : 'warning';
      return {
        pattern: 'kmalloc-hotspot',
        severity,
        title: `Call site ${o.site} holds ${formatBytes(o.bytes)} allocated during the window and not freed`,
        evidence: evidence([
          `call site ${o.site}: ${formatBytes(o.bytes)} outstanding at the end of the ${parsed.windowSeconds.toFixed(1)} s window, ` +
            `${percent(share(o.bytes, allocated))} of the ${formatBytes(allocated)} it allocated`,
          ...(parsed.untrackedAllocations > 0
            ? [
                `the map of live allocations filled up: at least ${parsed.untrackedAllocations} allocations were not tracked and may be counted as outstanding (raise maxTrackedAllocations)`,
              ]
            : []),
          ...(parsed.unseenFrees > 0 ? [`${parsed.unseenFrees} frees happened outside kfree() and were settled when their address was reused`] : []),
        ]),
        recommendation:
          `Memory allocated at ${o.site} is being kept. Run a longer capture: if the outstanding bytes keep growing with uptime ` +
          'it is a leak (check the slab capture and /proc/meminfo SUnreclaim); objects freed with kfree_rcu or kmem_cache_free ' +
          'are not seen by the kfree tracepoint and can look outstanding for a while.',
      };
    });
}

function failureFindings(parsed: KmallocParsed): Finding[] {
  if (parsed.failures.length === 0) return [];
  const count = parsed.failures.reduce((sum, f) => sum + f.count, 0);
  return [
    {
      pattern: 'allocation-failure',
      severity: 'warning',
      title: `kmalloc returned NULL ${count} times during the window`,
      evidence: evidence(parsed.failures.map((f) => `${f.site} (${processLabel(parsed, f)}): ${f.count} failed allocations`)),
      recommendation:
        'Allocation failures while memory looks free point to fragmentation or exhausted reserves: run the memory capture ' +
        '(buddyinfo, compaction stalls) and check the kernel log for "page allocation failure".',
    },
  ];
}

export function analyzeKmalloc(parsed: KmallocParsed, params: CaptureParams<'kmalloc'>): CaptureAnalysis {
  const seconds = parsed.windowSeconds;
  const topSite = parsed.bySite[0];
  const topProcess = parsed.byProcess[0];
  const outstanding = parsed.outstandingBySite.reduce((sum, o) => sum + o.bytes, 0);
  const summary: Summary = {
    windowSeconds: Math.round(seconds * 10) / 10,
    kmallocCalls: parsed.total.calls,
    kmallocBytes: parsed.total.bytes,
    callsPerSecond: Math.round(rate(parsed.total.calls, seconds)),
    bytesPerSecond: Math.round(rate(parsed.total.bytes, seconds)),
    callSites: parsed.bySite.length,
    processes: parsed.byProcess.length,
    allocationFailures: parsed.failures.reduce((sum, f) => sum + f.count, 0),
  };
  const median = histogramQuantile(parsed.sizeHistogram, 0.5);
  if (median !== undefined) summary.medianSizeBytes = median;
  const commonest = [...parsed.sizeClasses].sort((a, b) => b.calls - a.calls)[0];
  if (commonest) summary.commonestSize = `${formatBytes(commonest.bytes)}: ${commonest.calls} calls`;
  parsed.bySite.slice(0, params.topN).forEach((site, i) => {
    summary[`site.${i + 1}`] = `${site.site}: ${formatBytes(site.bytes)}, ${site.calls} calls`;
  });
  parsed.byProcess.slice(0, params.topN).forEach((proc, i) => {
    summary[`process.${i + 1}`] = `${processLabel(parsed, proc)}: ${formatBytes(proc.bytes)}, ${proc.calls} calls`;
  });
  if (parsed.tracked) {
    summary.outstandingBytes = outstanding;
    summary.untrackedAllocations = parsed.untrackedAllocations;
    parsed.outstandingBySite.slice(0, params.topN).forEach((o, i) => {
      summary[`outstanding.${i + 1}`] = `${o.site}: ${formatBytes(o.bytes)}`;
    });
  }
  if (topSite) summary.topCallSite = topSite.site;
  if (topProcess) summary.topProcess = processLabel(parsed, topProcess);
  if (parsed.malformedLines > 0) summary.malformedOutputLines = parsed.malformedLines;
  return { summary, findings: [...rateFindings(parsed), ...outstandingFindings(parsed), ...failureFindings(parsed)] };
}
