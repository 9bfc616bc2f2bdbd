export interface SlowStartOptions {
  /** The most calls in flight at once. */
  maxConcurrency: number;
  /** Calls in flight at first; doubled each time that many succeeded. Default 1. */
  initialConcurrency?: number;
  /** Stops starting new calls when aborted; calls in flight finish. */
  signal?: AbortSignal;
}

/**
 * Runs `work` for every item with a concurrency that starts small and doubles while calls succeed
 * (1, 2, 4, ... up to `maxConcurrency`), like the Job controller's slow-start batches: a cluster
 * that refuses the work (quota, admission, an API server shedding load) costs a few calls, not
 * thousands, and one that takes it reaches full speed after a few dozen. On the first error no
 * new call starts; once those in flight settled, the error is thrown. Returns how many succeeded.
 */
export async function slowStart<T>(items: readonly T[], work: (item: T) => Promise<void>, options: SlowStartOptions): Promise<number> {
  const max = options.maxConcurrency;
  if (!(Number.isInteger(max) && max >= 1)) throw new Error(`slowStart: maxConcurrency must be an integer >= 1, got ${max}`);
  let limit = Math.min(options.initialConcurrency ?? 1, max);
  let next = 0;
  let inFlight = 0;
  let succeededAtLimit = 0;
  let done = 0;
  let failure: { error: unknown } | undefined;
  return new Promise<number>((resolve, reject) => {
    const settle = (): void => {
      if (inFlight > 0) return;
      if (failure) reject(failure.error);
      else if (next >= items.length || options.signal?.aborted) resolve(done);
    };
    const pump = (): void => {
      while (!failure && !options.signal?.aborted && inFlight < limit && next < items.length) {
        const item = items[next++]!;
        inFlight++;
        Promise.resolve()
          .then(() => work(item))
          .then(
            () => {
              done++;
              if (++succeededAtLimit >= limit && limit < max) {
                limit = Math.min(limit * 2, max);
                succeededAtLimit = 0;
              }
            },
            (error: unknown) => {
              failure ??= { error };
            },
          )
          .finally(() => {
            inFlight--;
            pump();
            settle();
          });
      }
      settle();
    };
    pump();
  });
}
