import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { History, HistoryFileError } from '../../../node-agent/watch/history.js';
import { historyFileName, loadHistory, saveHistory } from '../../../node-agent/watch/state-files.js';

const tiers = [
  { stepSeconds: 60, points: 60 },
  { stepSeconds: 600, points: 24 },
];
const t0 = Date.UTC(2026, 11, 1); // a step boundary of both tiers

describe('History', () => {
  it('averages the samples of a step, in every tier', () => {
    const h = new History(tiers, 8);
    h.record('a', t0, 1);
    h.record('a', t0 + 20_000, 2);
    h.record('a', t0 + 40_000, 6);
    h.record('a', t0 + 60_000, 10);
    expect(h.range('a', t0, t0 + 60_000)).toEqual({
      stepSeconds: 60,
      points: [
        { atMs: t0, value: 3 },
        { atMs: t0 + 60_000, value: 10 },
      ],
    });
    // Beyond the minute tier's hour, the ten-minute tier answers: one point, the mean of all four samples.
    expect(h.range('a', t0 - 2 * 3600_000, t0 + 60_000)).toEqual({ stepSeconds: 600, points: [{ atMs: t0, value: 4.75 }] });
  });

  it('forgets what the ring has come round to again', () => {
    const h = new History(tiers, 8);
    for (let minute = 0; minute < 90; minute++) h.record('a', t0 + minute * 60_000, minute);
    // The minute tier keeps the last hour: minutes 30 to 89.
    const { stepSeconds, points } = h.range('a', t0 + 30 * 60_000, t0 + 89 * 60_000);
    expect(stepSeconds).toBe(60);
    expect(points).toHaveLength(60);
    expect(h.range('a', t0, t0 + 89 * 60_000).stepSeconds).toBe(600);
    expect(points[0]).toEqual({ atMs: t0 + 30 * 60_000, value: 30 });
    expect(points.at(-1)).toEqual({ atMs: t0 + 89 * 60_000, value: 89 });
    // A series that stopped being sampled has no points in steps written after it stopped.
    h.record('b', t0 + 89 * 60_000, 5);
    expect(h.range('b', t0 + 30 * 60_000, t0 + 89 * 60_000).points).toEqual([{ atMs: t0 + 89 * 60_000, value: 5 }]);
  });

  it('holds at most maxSeries: the one updated least recently makes room', () => {
    const h = new History(tiers, 2);
    h.record('a', t0, 1);
    h.record('b', t0, 1);
    h.record('a', t0 + 60_000, 2);
    h.record('c', t0 + 60_000, 3);
    expect(h.seriesNames().sort()).toEqual(['a', 'c']);
  });

  it('has a size fixed by its tiers and series, however long it runs', () => {
    const h = new History(tiers, 4);
    for (const name of ['a', 'b', 'c', 'd']) h.record(name, t0, 1);
    const size = h.encodedBytes();
    for (let minute = 0; minute < 5000; minute++) for (const name of ['a', 'b', 'c', 'd']) h.record(name, t0 + minute * 60_000, minute);
    expect(h.encodedBytes()).toBe(size);
  });

  it('reads back what it wrote, and refuses a damaged copy', () => {
    const h = new History(tiers, 8);
    for (let minute = 0; minute < 30; minute++) h.record('slab.dentry.bytes', t0 + minute * 60_000, 1000 + minute);
    const bytes = h.encode(t0);
    const { history, savedAtMs, dropped } = History.decode(bytes, tiers, 8);
    expect(savedAtMs).toBe(t0);
    expect(dropped).toEqual([]);
    expect(history.range('slab.dentry.bytes', t0, t0 + 29 * 60_000)).toEqual(h.range('slab.dentry.bytes', t0, t0 + 29 * 60_000));
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 100]! ^= 0xff;
    expect(() => History.decode(flipped, tiers, 8)).toThrow(HistoryFileError);
    expect(() => History.decode(bytes.subarray(0, bytes.length - 10), tiers, 8)).toThrow(/checksum/);
    expect(() => History.decode(Buffer.from('not a history'), tiers, 8)).toThrow(/KSWH/);
    // A changed tier starts empty; the others keep their points.
    const changed = History.decode(bytes, [tiers[0]!, { stepSeconds: 600, points: 48 }], 8);
    expect(changed.dropped).toEqual(['600s × 24']);
    expect(changed.history.range('slab.dentry.bytes', t0, t0 + 29 * 60_000).points).toHaveLength(30);
  });
});

describe('the history file on the node', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ksleuth-history-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is written atomically and read back', async () => {
    const h = new History(tiers, 8);
    h.record('a', t0, 42);
    const size = await saveHistory(dir, h, t0);
    expect((await stat(join(dir, historyFileName))).size).toBe(size);
    const { history, problem } = await loadHistory(dir, tiers, 8);
    expect(problem).toBeUndefined();
    expect(history.range('a', t0, t0).points).toEqual([{ atMs: t0, value: 42 }]);
  });

  it('when damaged, is set aside as .corrupt and replaced by an empty history, with the reason', async () => {
    await writeFile(join(dir, historyFileName), 'KSWH garbage that was cut off');
    const { history, problem } = await loadHistory(dir, tiers, 8);
    expect(history.seriesCount).toBe(0);
    expect(problem).toMatch(/history file .*history\.bin was damaged \(.*\); kept it as .*history\.bin\.corrupt and started a new history/);
    expect(await readFile(join(dir, `${historyFileName}.corrupt`), 'utf8')).toBe('KSWH garbage that was cut off');
    const missing = await loadHistory(join(dir, 'nowhere'), tiers, 8);
    expect(missing.problem).toBeUndefined();
  });
});
