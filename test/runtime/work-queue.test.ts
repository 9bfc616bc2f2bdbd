import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Backoff, backoffDelay } from '../../runtime/backoff.js';
import { WorkQueue } from '../../runtime/work-queue.js';

/** Resolves the value of a promise if it settled by now (after microtasks), else 'pending'. */
async function peek<T>(promise: Promise<T>): Promise<T | 'pending'> {
  return Promise.race([promise, new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))]);
}

describe('WorkQueue: de-duplication', () => {
  it('hands out a key added several times once, in first-added order', async () => {
    const queue = new WorkQueue();
    for (const key of ['a', 'b', 'a', 'c', 'b', 'a']) queue.add(key);
    expect(queue.depth).toBe(3);
    expect([await queue.get(), await queue.get(), await queue.get()]).toEqual(['a', 'b', 'c']);
    expect(queue.depth).toBe(0);
    expect(await peek(queue.get())).toBe('pending');
  });

  it('never hands a key to two workers at once; re-adds while processing run once after done', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.add('a');
    queue.add('a');
    expect(queue.depth).toBe(0);
    const second = queue.get();
    expect(await peek(second)).toBe('pending');
    queue.done('a');
    expect(await second).toBe('a');
    queue.done('a');
    expect(queue.depth).toBe(0);
    expect(queue.inFlight).toBe(0);
  });

  it('serves waiting workers in turn and keeps other keys flowing while one is processed', async () => {
    const queue = new WorkQueue();
    const first = queue.get();
    const second = queue.get();
    queue.add('x');
    queue.add('y');
    expect([await first, await second]).toEqual(['x', 'y']);
    expect(queue.inFlight).toBe(2);
  });
});

describe('WorkQueue: delays and backoff', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('queues a delayed key only when the delay passed, the earliest of several delays winning', () => {
    const queue = new WorkQueue();
    queue.addAfter('k', 1000);
    queue.addAfter('k', 300);
    queue.addAfter('k', 5000);
    expect(queue.waiting).toBe(1);
    vi.advanceTimersByTime(299);
    expect(queue.depth).toBe(0);
    vi.advanceTimersByTime(1);
    expect(queue.depth).toBe(1);
    expect(queue.waiting).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(queue.depth).toBe(1);
  });

  it('backs off per key exponentially up to the cap, and forget starts over', () => {
    const queue = new WorkQueue({ retryBackoff: { initialMs: 100, maxMs: 1000 }, rateLimit: false });
    const delays = Array.from({ length: 6 }, () => queue.addRateLimited('k'));
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(queue.retries('k')).toBe(6);
    expect(queue.addRateLimited('other')).toBe(100);
    queue.forget('k');
    expect(queue.retries('k')).toBe(0);
    expect(queue.addRateLimited('k')).toBe(100);
  });

  it('delays a failed key by its backoff before handing it out again', () => {
    const queue = new WorkQueue({ retryBackoff: { initialMs: 100, maxMs: 1000 }, rateLimit: false });
    queue.addRateLimited('k');
    vi.advanceTimersByTime(99);
    expect(queue.depth).toBe(0);
    vi.advanceTimersByTime(1);
    expect(queue.depth).toBe(1);
  });

  it('spreads retries of many keys to the overall token-bucket rate', () => {
    const queue = new WorkQueue({ retryBackoff: { initialMs: 1, maxMs: 1 }, rateLimit: { ratePerSecond: 2, burst: 3 } });
    const delays = ['a', 'b', 'c', 'd', 'e', 'f'].map((key) => queue.addRateLimited(key));
    // Three tokens are there at once; then one every 500 ms.
    expect(delays).toEqual([1, 1, 1, 500, 1000, 1500]);
    vi.advanceTimersByTime(2000);
    // Reserved future tokens are a debt: 2 s refilled 4 tokens, 3 of which paid for d, e and f.
    expect([queue.addRateLimited('g'), queue.addRateLimited('h'), queue.addRateLimited('i')]).toEqual([1, 500, 1000]);
    vi.advanceTimersByTime(10_000);
    // A long quiet spell refills only up to the burst.
    expect(['j', 'k', 'l', 'm'].map((key) => queue.addRateLimited(key))).toEqual([1, 1, 1, 500]);
  });

  it('does not rate-limit plain adds', () => {
    const queue = new WorkQueue({ rateLimit: { ratePerSecond: 1, burst: 1 } });
    for (let i = 0; i < 1000; i++) queue.add(`k${i}`);
    expect(queue.depth).toBe(1000);
  });
});

describe('WorkQueue: shutdown', () => {
  it('stops handing out keys, ignores adds and drops delayed keys', async () => {
    const queue = new WorkQueue();
    const waiting = queue.get();
    queue.addAfter('later', 60_000);
    queue.shutDown();
    expect(await waiting).toBeUndefined();
    queue.add('x');
    expect(queue.depth).toBe(0);
    expect(queue.waiting).toBe(0);
    expect(await queue.get()).toBeUndefined();
  });

  it('drains: waits for keys in flight to be done, and does not requeue them', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    queue.add('b');
    const a = (await queue.get())!;
    const b = (await queue.get())!;
    queue.add('a');
    queue.shutDown();
    const drained = queue.drain(60_000);
    queue.done(a);
    expect(await peek(drained)).toBe('pending');
    queue.done(b);
    expect(await drained).toBe(true);
    expect(queue.depth).toBe(0);
  });

  it('gives up draining after the timeout', async () => {
    vi.useFakeTimers();
    try {
      const queue = new WorkQueue();
      queue.add('stuck');
      await queue.get();
      queue.shutDown();
      const drained = queue.drain(500);
      vi.advanceTimersByTime(500);
      expect(await drained).toBe(false);
      expect(queue.inFlight).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('backoff', () => {
  it('grows by the factor, stays within the jitter band and never passes the cap', () => {
    const options = { initialMs: 100, maxMs: 5000, jitter: 0.5 };
    for (let attempt = 0; attempt < 12; attempt++) {
      const base = Math.min(5000, 100 * 2 ** attempt);
      for (const random of [0, 0.25, 0.5, 0.999]) {
        const delay = backoffDelay(options, attempt, () => random);
        expect(delay).toBeGreaterThanOrEqual(Math.floor(base * 0.5));
        expect(delay).toBeLessThanOrEqual(Math.min(5000, Math.ceil(base * 1.5)));
      }
    }
    expect(backoffDelay(options, 3, () => 0.5)).toBe(800);
  });

  it('counts failures and starts over after a reset', () => {
    const backoff = new Backoff({ initialMs: 10, maxMs: 100 });
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([10, 20, 40]);
    backoff.reset();
    expect(backoff.next()).toBe(10);
  });

  it('refuses settings that make no sense, naming them', () => {
    expect(() => new Backoff({ initialMs: 100, maxMs: 10 })).toThrow(/initialMs <= maxMs/);
    expect(() => new Backoff({ initialMs: 1, maxMs: 10, jitter: 2 })).toThrow(/jitter is a fraction/);
    expect(() => new WorkQueue({ retryBackoff: { initialMs: 1, maxMs: 10, factor: 0.5 } })).toThrow(/factor must be >= 1/);
    expect(() => new WorkQueue({ rateLimit: { ratePerSecond: 0, burst: 1 } })).toThrow(/ratePerSecond must be > 0/);
  });
});
