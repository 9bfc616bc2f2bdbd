/** Runs `worker` `concurrency` times in parallel, each looping until the window ends, the signal aborts or `take()` says no more. */
export async function untilWindowEnds(options: {
  concurrency: number;
  windowEnd: Date;
  signal: AbortSignal;
  take: () => boolean;
  worker: () => Promise<void>;
}): Promise<number> {
  const started = Date.now();
  const loop = async (): Promise<void> => {
    while (!options.signal.aborted && Date.now() < options.windowEnd.getTime() && options.take()) await options.worker();
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  return (Date.now() - started) / 1000;
}
