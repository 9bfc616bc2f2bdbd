import { backoffDelay, checkBackoff, type BackoffOptions } from './backoff.js';
import { TokenBucket } from './token-bucket.js';

export interface WorkQueueOptions {
  /**
   * Per-key backoff for {@link WorkQueue.addRateLimited}: grows with each failure of that key,
   * starts over after {@link WorkQueue.forget}. Default 50 ms doubling up to 5 minutes.
   */
  retryBackoff?: BackoffOptions;
  /**
   * The overall token bucket for {@link WorkQueue.addRateLimited}: however many keys fail, retries
   * are spread to at most this rate. Default 10 per second, burst 100 (client-go's default).
   * Plain {@link WorkQueue.add}s are not rate-limited, so an initial sync of thousands of objects
   * is not slowed down. `false` turns it off.
   */
  rateLimit?: { ratePerSecond: number; burst: number } | false;
  /** The clock for the token bucket; tests pass a fake. */
  now?: () => number;
}

export const defaultRetryBackoff: BackoffOptions = { initialMs: 50, maxMs: 5 * 60_000 };

/**
 * A de-duplicating work queue of keys, with client-go's guarantees:
 * - a key added any number of times before a worker takes it is handed out once;
 * - a key is never handed to two workers at once: added again while it is being processed, it is
 *   queued again once {@link done} is called for it;
 * - keys come out in the order they were first added.
 *
 * Delays ({@link addAfter}), per-key failure backoff and an overall retry rate limit
 * ({@link addRateLimited}) build on that. {@link shutDown} stops handing out keys;
 * {@link drain} waits for keys being processed.
 */
export class WorkQueue {
  private readonly fifo: string[] = [];
  private head = 0;
  /** Keys that need processing: queued, or added again while being processed. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly delayed = new Map<string, { dueAt: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly bucket?: TokenBucket;
  private readonly retryBackoff: BackoffOptions;
  private readonly now: () => number;
  private waiters: ((key: string | undefined) => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private stopped = false;

  constructor(options: WorkQueueOptions = {}) {
    this.retryBackoff = options.retryBackoff ?? defaultRetryBackoff;
    checkBackoff(this.retryBackoff);
    this.now = options.now ?? Date.now;
    const rateLimit = options.rateLimit ?? { ratePerSecond: 10, burst: 100 };
    if (rateLimit) this.bucket = new TokenBucket(rateLimit.ratePerSecond, rateLimit.burst, this.now);
  }

  /** Keys waiting for a worker (the queue depth). */
  get depth(): number {
    return this.fifo.length - this.head;
  }

  /** Keys being processed right now. */
  get inFlight(): number {
    return this.processing.size;
  }

  /** Keys waiting for a delay to pass before they are queued. */
  get waiting(): number {
    return this.delayed.size;
  }

  get shuttingDown(): boolean {
    return this.stopped;
  }

  /** Queues the key unless it is already queued. Ignored after {@link shutDown}. */
  add(key: string): void {
    if (this.stopped || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.fifo.push(key);
    this.dispatch();
  }

  /**
   * Queues the key after `delayMs`. Of several pending delays for one key the earliest wins;
   * `delayMs <= 0` queues it now.
   */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    if (!(delayMs > 0)) {
      this.add(key);
      return;
    }
    const dueAt = this.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.dueAt <= dueAt) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.delayed.set(key, { dueAt, timer });
  }

  /**
   * Queues the key after its failure backoff (which grows with each call until {@link forget}),
   * or later if the overall retry rate is exhausted. Returns the delay chosen.
   */
  addRateLimited(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    const delay = Math.max(backoffDelay(this.retryBackoff, failures), this.bucket?.reserve() ?? 0);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the key's failure count: its next failure starts the backoff over. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** How often the key failed since it was last forgotten. */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /**
   * The next key to process, waiting until one is queued. Resolves `undefined` once the queue is
   * shut down. Call {@link done} with the key when finished with it.
   */
  get(): Promise<string | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.dispatch();
    });
  }

  /** Marks the key processed; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    if (!this.processing.delete(key)) return;
    if (this.dirty.has(key) && !this.stopped) {
      this.fifo.push(key);
      this.dispatch();
    }
    if (this.processing.size === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  /**
   * Stops the queue: no more keys are handed out (waiting {@link get}s resolve `undefined`), adds
   * are ignored, delayed keys are dropped. Keys being processed finish normally.
   */
  shutDown(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.fifo.length = 0;
    this.head = 0;
    this.dirty.clear();
    for (const resolve of this.waiters.splice(0)) resolve(undefined);
  }

  /**
   * Waits until no key is being processed, or `timeoutMs` passes. Resolves true when drained.
   * Meant to follow {@link shutDown}.
   */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.processing.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onIdle = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((waiter) => waiter !== onIdle);
        resolve(false);
      }, timeoutMs);
      this.idleWaiters.push(onIdle);
    });
  }

  private dispatch(): void {
    while (this.waiters.length > 0 && this.head < this.fifo.length) {
      const key = this.fifo[this.head++]!;
      this.dirty.delete(key);
      this.processing.add(key);
      this.waiters.shift()!(key);
    }
    if (this.head > 1024 && this.head * 2 > this.fifo.length) {
      this.fifo.splice(0, this.head);
      this.head = 0;
    }
  }
}
