import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { slowStart } from '../../runtime/slow-start.js';

describe('slowStart', () => {
  it('starts with one call at a time and doubles while calls succeed, up to the maximum', async () => {
    let inFlight = 0;
    const levels: number[] = [];
    const items = Array.from({ length: 200 }, (_, i) => i);
    const done = await slowStart(
      items,
      async () => {
        levels.push(++inFlight);
        await sleep(1);
        inFlight--;
      },
      { maxConcurrency: 16 },
    );
    expect(done).toBe(200);
    expect(levels[0]).toBe(1);
    expect(Math.max(...levels)).toBe(16);
    // 1 + 2 + 4 + 8 calls at most before it may run 16 at once.
    expect(levels.findIndex((l) => l > 8)).toBeGreaterThanOrEqual(1 + 2 + 4 + 8 - 8);
    expect(levels.slice(0, 3)).toEqual([1, 1, 2]);
  });

  it('starts nothing new after the first failure and rejects with it once the calls in flight settled', async () => {
    const started: number[] = [];
    let settled = 0;
    const failure = slowStart(
      Array.from({ length: 1000 }, (_, i) => i),
      async (i) => {
        started.push(i);
        await sleep(i === 20 ? 1 : 5);
        settled++;
        if (i === 20) throw new Error('quota exceeded');
      },
      { maxConcurrency: 32 },
    );
    await expect(failure).rejects.toThrow('quota exceeded');
    expect(settled).toBe(started.length);
    expect(started.length).toBeLessThan(64);
  });

  it('does nothing for no items, stops starting when aborted, and refuses a nonsense limit', async () => {
    expect(await slowStart([], async () => undefined, { maxConcurrency: 4 })).toBe(0);
    const stop = new AbortController();
    let calls = 0;
    const done = await slowStart(
      Array.from({ length: 100 }, (_, i) => i),
      async () => {
        if (++calls === 10) stop.abort();
        await sleep(1);
      },
      { maxConcurrency: 4, signal: stop.signal },
    );
    expect(done).toBe(calls);
    expect(calls).toBeLessThan(15);
    await expect(slowStart([1], async () => undefined, { maxConcurrency: 0 })).rejects.toThrow(/maxConcurrency must be an integer >= 1/);
  });
});
