import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kmallocParams } from '../../../../api/v1alpha1/captures.js';
import { cgroupIdsOf, log2Histogram, parseKmalloc } from '../../../../node-agent/captures/kmalloc/parse.js';

const fixture = (name: string): string => readFileSync(new URL(`../../../fixtures/kmalloc/${name}`, import.meta.url), 'utf8');
const params = (overrides: Record<string, unknown>) => kmallocParams.parse(overrides);

/** Every "key": count entry of one printed map, from the text (duplicate keys included). */
function entries(text: string, map: string): [string, number][] {
  const line = text.split('\n').find((l) => l.includes(`{"${map}": {`)) ?? '';
  return [...line.matchAll(/"([^"]+)": (\d+)/g)].filter(([, key]) => key !== map).map(([, key, n]) => [key!, Number(n)]);
}

function allocTotals(text: string): { calls: number; bytes: number } {
  return entries(text, '@alloc')
    .map(([key, n]) => [Number(key.split(',').pop()), n] as const)
    .filter(([size]) => size > 0)
    .reduce((sum, [size, n]) => ({ calls: sum.calls + n, bytes: sum.bytes + n * size }), { calls: 0, bytes: 0 });
}

describe('parseKmalloc on a recorded tracked run (800 /proc files held open)', () => {
  const text = fixture('tracked-holding-proc-files.json');
  const parsed = parseKmalloc(text, params({ maxTrackedAllocations: 16384 }));

  it('adds up every (process, call site, size) entry, also those printed twice', () => {
    const keys = entries(text, '@alloc').map(([key]) => key);
    expect(new Set(keys).size).toBeLessThan(keys.length);
    expect(parsed.total).toEqual(allocTotals(text));
    expect(parsed.byProcess.reduce((s, p) => s + p.calls, 0)).toBe(parsed.total.calls);
    expect(parsed.bySite.reduce((s, p) => s + p.bytes, 0)).toBe(parsed.total.bytes);
    expect(parsed.sizeClasses.reduce((s, c) => s + c.calls, 0)).toBe(parsed.total.calls);
    expect(parsed.sizeHistogram.reduce((s, b) => s + b.count, 0)).toBe(parsed.total.calls);
  });

  it('sorts processes and call sites by bytes', () => {
    for (const list of [parsed.byProcess, parsed.bySite]) {
      expect(list.map((x) => x.bytes)).toEqual([...list.map((x) => x.bytes)].sort((a, b) => b - a));
    }
  });

  it('finds the 800 held seq_operations (32 bytes each) outstanding at single_open', () => {
    expect(parsed.outstandingBySite.find((o) => o.site === 'single_open')?.bytes).toBe(800 * 32);
    // The recording tool (node too) opened and closed a few more.
    expect(parsed.byProcessAndSite.find((p) => p.comm === 'node' && p.site === 'single_open')!.calls).toBeGreaterThanOrEqual(800);
    expect(parsed.outstandingBySite.every((o) => o.bytes > 0)).toBe(true);
  });

  it('reads the window and the tracking counters', () => {
    expect(parsed.windowSeconds).toBeGreaterThan(13);
    expect(parsed.untrackedAllocations).toBe(0);
    expect(parsed.unseenFrees).toBe(
      entries(text, '@freed')
        .filter(([key]) => key.endsWith(',1'))
        .reduce((s, [, n]) => s + n, 0),
    );
    expect(parsed.unseenFrees).toBeGreaterThan(0);
    expect(parsed.tracked).toBe(true);
    expect(parsed.failures).toEqual([]);
    expect(parsed.malformedLines).toBe(0);
  });
});

describe('parseKmalloc on a recorded run whose map of live allocations filled up', () => {
  const text = fixture('tracked-map-full.json');
  const parsed = parseKmalloc(text, params({ maxTrackedAllocations: 1024 }));

  it('says how many allocations at least did not fit', () => {
    const freed = entries(text, '@freed').reduce((s, [, n]) => s + n, 0);
    expect(parsed.untrackedAllocations).toBe(allocTotals(text).calls - freed - 1024);
    expect(parsed.untrackedAllocations).toBeGreaterThan(1000);
    // 1,998 files were opened in the window: each 32 bytes at single_open.
    expect(parsed.outstandingBySite.find((o) => o.site === 'single_open')!.bytes).toBeGreaterThanOrEqual(1900 * 32);
  });
});

describe('parseKmalloc on a recorded untracked run', () => {
  const text = fixture('untracked.json');
  const parsed = parseKmalloc(text, params({ trackOutstanding: false }));

  it('has calls and bytes by process and call site but nothing outstanding', () => {
    expect(parsed.total).toEqual(allocTotals(text));
    expect(parsed.total.calls).toBeGreaterThan(0);
    expect(parsed.outstandingBySite).toEqual([]);
    expect(parsed.tracked).toBe(false);
    expect(parsed.windowSeconds).toBeGreaterThan(4);
  });
});

describe('parseKmalloc on a recorded run with a process in a pod-shaped cgroup', () => {
  const parsed = parseKmalloc(fixture('untracked-pod-cgroup.json'), params({ trackOutstanding: false }));

  it('keys processes by command and cgroup id: the pod’s writev loop is its own process', () => {
    expect(parsed.byProcess[0]).toMatchObject({ comm: 'node', cgroup: 19139 });
    expect(parsed.byProcessAndSite.find((p) => p.cgroup === 19139 && p.site === 'iovec_from_user')).toMatchObject({ calls: 134, bytes: 134 * 16384 });
    expect(parsed.byProcess.filter((p) => p.cgroup !== 19139).every((p) => p.cgroup === 1)).toBe(true);
    expect([...cgroupIdsOf(parsed)].sort((a, b) => a - b)).toEqual([1, 19139]);
  });
});

describe('parseKmalloc on odd input', () => {
  it('reads failed allocations (size 0), commas in a comm, and the first window end printed', () => {
    const text = [
      '{"type": "printf", "data": "ksleuth window_start_ns 1000000000\\n"}',
      '{"type": "printf", "data": "ksleuth window_end_ns 3000000000\\n"}',
      '{"type": "printf", "data": "ksleuth window_end_ns 3100000000\\n"}',
      '{"type": "map", "data": {"@alloc": {"a,b,kfree_skb,64": 2, "kworker/0:1,alloc_skb,0": 3, "a,b,kfree_skb,64": 1}}}',
    ].join('\n');
    const parsed = parseKmalloc(text, params({}));
    // An older recording: @alloc without the cgroup, read as cgroup 0 (unknown).
    expect(parsed.byProcessAndSite).toEqual([{ comm: 'a,b', cgroup: 0, site: 'kfree_skb', calls: 3, bytes: 192 }]);
    expect(parsed.failures).toEqual([{ comm: 'kworker/0:1', cgroup: 0, site: 'alloc_skb', count: 3 }]);
    expect(parsed.outstandingBySite).toEqual([{ site: 'kfree_skb', bytes: 192 }]);
    expect(parsed.windowSeconds).toBe(2);
  });

  it('reads the cgroup of @allocs[comm, cgroup, site, size], keeping one comm in two cgroups apart', () => {
    const text = [
      '{"type": "printf", "data": "ksleuth window_start_ns 1000000000\\n"}',
      '{"type": "printf", "data": "ksleuth window_end_ns 3000000000\\n"}',
      '{"type": "map", "data": {"@allocs": {"node,7,iovec_from_user,16384": 10, "node,9,iovec_from_user,16384": 2, "a,b,7,kfree_skb,0": 1}}}',
    ].join('\n');
    const parsed = parseKmalloc(text, params({ trackOutstanding: false }));
    expect(parsed.byProcess).toEqual([
      { comm: 'node', cgroup: 7, calls: 10, bytes: 163840 },
      { comm: 'node', cgroup: 9, calls: 2, bytes: 32768 },
    ]);
    expect(parsed.failures).toEqual([{ comm: 'a,b', cgroup: 7, site: 'kfree_skb', count: 1 }]);
    expect([...cgroupIdsOf(parsed)].sort()).toEqual([7, 9]);
  });

  it('returns empty results for empty output and counts a cut-off line', () => {
    expect(parseKmalloc('', params({}))).toMatchObject({ total: { calls: 0, bytes: 0 }, windowSeconds: 0, bySite: [] });
    const text = fixture('untracked.json');
    expect(parseKmalloc(text.slice(0, text.indexOf('"@alloc"') + 200), params({ trackOutstanding: false })).malformedLines).toBe(1);
  });

  it('makes log2 buckets like hist()', () => {
    expect(
      log2Histogram([
        { bytes: 8, calls: 1 },
        { bytes: 96, calls: 2 },
        { bytes: 64, calls: 3 },
        { bytes: 4096, calls: 1 },
      ]),
    ).toEqual([
      { min: 8, max: 15, count: 1 },
      { min: 64, max: 127, count: 5 },
      { min: 4096, max: 8191, count: 1 },
    ]);
  });
});
