import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseKmalloc, splitCommAndSite } from '../../../../node-agent/captures/kmalloc/parse.js';

const fixture = (name: string): string => readFileSync(new URL(`../../../fixtures/kmalloc/${name}`, import.meta.url), 'utf8');

/** Adds up a field over every entry of the @alloc line, from the text (duplicates included). */
function allocTotals(text: string): { calls: number; bytes: number } {
  const line = text.split('\n').find((l) => l.includes('"@alloc"'))!;
  const sum = (field: string): number => [...line.matchAll(new RegExp(`"${field}": (\\d+)`, 'g'))].reduce((s, m) => s + Number(m[1]), 0);
  return { calls: sum('count'), bytes: sum('total') };
}

describe('parseKmalloc on a recorded tracked run (800 /proc files held open)', () => {
  const text = fixture('tracked-holding-proc-files.json');
  const parsed = parseKmalloc(text, true);

  it('adds up every (process, call site) entry, also those printed twice', () => {
    expect(parsed.total).toEqual(allocTotals(text));
    expect(parsed.byProcess.reduce((s, p) => s + p.calls, 0)).toBe(parsed.total.calls);
    expect(parsed.bySite.reduce((s, p) => s + p.bytes, 0)).toBe(parsed.total.bytes);
    expect(new Set(parsed.bySite.map((s) => s.site)).size).toBe(parsed.bySite.length);
  });

  it('sorts processes and call sites by bytes', () => {
    for (const list of [parsed.byProcess, parsed.bySite]) {
      expect(list.map((x) => x.bytes)).toEqual([...list.map((x) => x.bytes)].sort((a, b) => b - a));
    }
  });

  it('finds the 800 held seq_operations (32 bytes each) outstanding at single_open', () => {
    expect(parsed.outstandingBySite.find((o) => o.site === 'single_open')?.bytes).toBe(800 * 32);
    expect(parsed.outstandingBySite.every((o) => o.bytes > 0)).toBe(true);
    expect(parsed.byProcessAndSite.find((p) => p.comm === 'node' && p.site === 'single_open')?.calls).toBeGreaterThanOrEqual(800);
  });

  it('reads the window, the size histogram and the tracking counters', () => {
    expect(parsed.windowSeconds).toBeCloseTo(13.216, 3);
    expect(parsed.sizeHistogram.reduce((s, b) => s + b.count, 0)).toBe(parsed.total.calls);
    expect(parsed.untrackedAllocations).toBe(0);
    expect(parsed.unseenFrees).toBe(251);
    expect(parsed.tracked).toBe(true);
    expect(parsed.failures).toEqual([]);
    expect(parsed.malformedLines).toBe(0);
  });
});

describe('parseKmalloc on a recorded untracked run', () => {
  const text = fixture('untracked.json');
  const parsed = parseKmalloc(text, false);

  it('has calls and bytes by process and call site but nothing outstanding', () => {
    expect(parsed.total).toEqual(allocTotals(text));
    expect(parsed.total.calls).toBeGreaterThan(0);
    expect(parsed.outstandingBySite).toEqual([]);
    expect(parsed.tracked).toBe(false);
    expect(parsed.windowSeconds).toBeCloseTo(4.3, 1);
  });
});

describe('parseKmalloc on bad input', () => {
  it('returns empty results for empty output and counts a cut-off line', () => {
    expect(parseKmalloc('', true)).toMatchObject({ total: { calls: 0, bytes: 0 }, windowSeconds: 0, bySite: [] });
    const text = fixture('untracked.json');
    expect(parseKmalloc(text.slice(0, text.indexOf('"@size"') + 20), false).malformedLines).toBe(1);
  });

  it('splits comm and call site at the last comma (a comm may hold one)', () => {
    expect(splitCommAndSite('npm exec a,b,kfree_skb')).toEqual({ comm: 'npm exec a,b', site: 'kfree_skb' });
  });
});
