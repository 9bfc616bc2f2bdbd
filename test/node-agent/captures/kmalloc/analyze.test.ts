import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kmallocParams } from '../../../../api/v1alpha1/captures.js';
import { finding } from '../../../../api/v1alpha1/finding.js';
import { analyzeKmalloc, outstandingHotspot, rateHotspot } from '../../../../node-agent/captures/kmalloc/analyze.js';
import { parseKmalloc, type KmallocParsed } from '../../../../node-agent/captures/kmalloc/parse.js';

const params = kmallocParams.parse({});
const recorded = (name = 'tracked-holding-proc-files.json', maxTrackedAllocations = 16384): KmallocParsed =>
  parseKmalloc(readFileSync(new URL(`../../../fixtures/kmalloc/${name}`, import.meta.url), 'utf8'), kmallocParams.parse({ maxTrackedAllocations }));

const MiB = 1024 * 1024;

/** Derived from the recording: one call site (and its process) scaled to `bytesPerSecond`. */
function withHotSite(bytesPerSecond: number, bytesPerCall = 4096, site = 'single_open', comm = 'node', cgroup = 0): KmallocParsed {
  const parsed = recorded();
  const bytes = Math.round(bytesPerSecond * parsed.windowSeconds);
  const calls = Math.round(bytes / bytesPerCall);
  const add = { calls, bytes };
  parsed.total = { calls: parsed.total.calls + calls, bytes: parsed.total.bytes + bytes };
  parsed.bySite = [{ site, ...add }, ...parsed.bySite.filter((s) => s.site !== site)];
  parsed.byProcess = [{ comm, cgroup, ...add }, ...parsed.byProcess.filter((p) => p.comm !== comm || p.cgroup !== cgroup)];
  parsed.byProcessAndSite = [{ comm, cgroup, site, ...add }, ...parsed.byProcessAndSite];
  return parsed;
}

describe('analyzeKmalloc', () => {
  it('finds nothing on the recorded quiet machine and summarises it', () => {
    const parsed = recorded();
    const { summary, findings } = analyzeKmalloc(parsed, params);
    expect(findings).toEqual([]);
    expect(summary).toMatchObject({
      kmallocCalls: parsed.total.calls,
      kmallocBytes: parsed.total.bytes,
      windowSeconds: Math.round(parsed.windowSeconds * 10) / 10,
      topCallSite: parsed.bySite[0]!.site,
      outstandingBytes: parsed.outstandingBySite.reduce((s, o) => s + o.bytes, 0),
      untrackedAllocations: 0,
    });
    expect(summary['site.1']).toMatch(new RegExp(`^${parsed.bySite[0]!.site}: `));
    expect(Object.keys(summary).filter((k) => k.startsWith('site.'))).toHaveLength(Math.min(params.topN, parsed.bySite.length));
  });

  it('reports a call site and its process allocating at an outsized rate (derived input)', () => {
    const { findings } = analyzeKmalloc(withHotSite(64 * MiB), params);
    expect(findings.map((f) => [f.pattern, f.severity, f.title])).toEqual([
      ['kmalloc-hotspot', 'warning', 'Call site single_open allocates 64.0 MiB/s with kmalloc'],
      ['kmalloc-hotspot', 'warning', 'Process node drives 64.0 MiB/s of kmalloc'],
    ]);
    expect(findings[0]!.evidence[0]).toMatch(/^call site single_open: .* \(64\.0 MiB\/s, \d+% of all kmalloc bytes\)/);
    expect(findings[0]!.evidence[1]).toMatch(/^processes at this call site: node /);
    for (const f of findings) expect(() => finding.parse(f)).not.toThrow();
  });

  it('makes a very high rate critical and leaves a rate under the threshold alone (derived input)', () => {
    expect(analyzeKmalloc(withHotSite(rateHotspot.criticalBytesPerSecond * 1.1), params).findings[0]!.severity).toBe('critical');
    expect(analyzeKmalloc(withHotSite(rateHotspot.bytesPerSecond / 4), params).findings).toEqual([]);
  });

  it('reports a call site making small allocations at an outsized call rate (derived input)', () => {
    const { findings } = analyzeKmalloc(withHotSite(8 * MiB, 32), params);
    expect(findings.map((f) => f.title)).toEqual(['Call site single_open allocates 8.0 MiB/s with kmalloc', 'Process node drives 8.0 MiB/s of kmalloc']);
    expect(findings[0]!.evidence[0]).toMatch(/\(262,144\/s, \d+% of calls\)$/);
    expect(rateHotspot.callsPerSecond).toBeLessThan(262_144);
  });

  it('does not call a fast site a hotspot when it is a small share of all allocations (derived input)', () => {
    const parsed = withHotSite(64 * MiB);
    parsed.total = { calls: parsed.total.calls * 100, bytes: parsed.total.bytes * 100 };
    expect(analyzeKmalloc(parsed, params).findings).toEqual([]);
  });

  it('reports large outstanding bytes kept by one call site, not those mostly freed (derived input)', () => {
    const parsed = recorded();
    const allocated = parsed.bySite.find((s) => s.site === 'single_open')!;
    allocated.bytes = 40 * MiB;
    parsed.outstandingBySite = [{ site: 'single_open', bytes: 20 * MiB }, ...parsed.outstandingBySite.filter((o) => o.site !== 'single_open')];
    const { findings } = analyzeKmalloc(parsed, params);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      pattern: 'kmalloc-hotspot',
      severity: 'warning',
      title: 'Call site single_open holds 20.0 MiB allocated during the window and not freed',
    });
    expect(findings[0]!.evidence[0]).toMatch(/50% of the 40\.0 MiB it allocated/);

    allocated.bytes = 100 * MiB;
    expect(analyzeKmalloc(parsed, params).findings).toEqual([]);

    allocated.bytes = 300 * MiB;
    parsed.outstandingBySite[0]!.bytes = outstandingHotspot.criticalBytes;
    expect(analyzeKmalloc(parsed, params).findings[0]!.severity).toBe('critical');
  });

  it('only notes outstanding bytes when the map of live allocations filled up: they may be inflated (recorded, then derived)', () => {
    const parsed = recorded('tracked-map-full.json', 1024);
    expect(analyzeKmalloc(parsed, params).findings).toEqual([]);
    parsed.bySite.find((s) => s.site === 'single_open')!.bytes = 30 * MiB;
    parsed.outstandingBySite = [{ site: 'single_open', bytes: 20 * MiB }];
    const { findings } = analyzeKmalloc(parsed, params);
    expect(findings).toEqual([expect.objectContaining({ pattern: 'kmalloc-hotspot', severity: 'info' })]);
    expect(findings[0]!.evidence.join('\n')).toMatch(/the map of live allocations filled up: at least \d+ allocations were not tracked/);
  });

  it('reports kmalloc calls that returned NULL as allocation failures (derived input)', () => {
    const parsed = recorded();
    parsed.failures = [{ comm: 'kworker/0:1', cgroup: 0, site: 'alloc_skb_with_frags', count: 3 }];
    const { findings, summary } = analyzeKmalloc(parsed, params);
    expect(findings).toEqual([expect.objectContaining({ pattern: 'allocation-failure', title: 'kmalloc returned NULL 3 times during the window' })]);
    expect(findings[0]!.evidence).toEqual(['alloc_skb_with_frags (kworker/0:1): 3 failed allocations']);
    expect(summary.allocationFailures).toBe(3);
  });

  it('reports no rates for an empty window instead of dividing by zero', () => {
    const parsed = withHotSite(64 * MiB);
    parsed.windowSeconds = 0;
    const { findings, summary } = analyzeKmalloc(parsed, params);
    expect(findings).toEqual([]);
    expect(summary.bytesPerSecond).toBe(0);
  });

  it('names the pod and container of a process by its cgroup id, and the host for a host process (derived input)', () => {
    const parsed = withHotSite(64 * MiB, 16384, 'iovec_from_user', 'node', 9001);
    parsed.byProcessAndSite.push({ comm: 'node', cgroup: 1, site: 'iovec_from_user', calls: 10, bytes: 163840 });
    parsed.workloads = {
      9001: { host: false, podUid: 'u', namespace: 'shop', pod: 'alloc-1', container: 'alloc', owner: 'Deployment/alloc' },
      1: { host: true },
    };
    const { findings, summary } = analyzeKmalloc(parsed, params);
    const byProcess = findings.find((f) => f.title.startsWith('Process '));
    expect(byProcess?.title).toBe('Process node (pod shop/alloc-1 container alloc (Deployment/alloc)) drives 64.0 MiB/s of kmalloc');
    const bySite = findings.find((f) => f.title.startsWith('Call site iovec_from_user'));
    expect(bySite?.evidence[1]).toMatch(
      /^processes at this call site: node \(pod shop\/alloc-1 container alloc \(Deployment\/alloc\)\) [\d.]+ MiB, node \(host\) 160\.0 KiB/,
    );
    expect(summary.topProcess).toBe('node (pod shop/alloc-1 container alloc (Deployment/alloc))');
  });
});
