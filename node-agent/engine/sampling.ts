import { setTimeout as sleep } from 'node:timers/promises';
import type { CaptureContext } from './capture.js';

/** One reading of kernel state, taken `atMs` after the window opened. */
export interface Sample<T = string> {
  atMs: number;
  data: T;
}

/**
 * Reads kernel state at the start of the window, every `intervalSeconds`, and at its end, so
 * there are always at least two samples to compare. Stops early when the capture is aborted.
 */
export async function sampleOverWindow<T>(
  ctx: Pick<CaptureContext, 'windowEnd' | 'signal'>,
  intervalSeconds: number,
  read: () => Promise<T>,
): Promise<Sample<T>[]> {
  const start = Date.now();
  const samples: Sample<T>[] = [];
  const take = async (): Promise<void> => {
    samples.push({ atMs: Date.now() - start, data: await read() });
  };
  await take();
  for (;;) {
    const remaining = ctx.windowEnd.getTime() - Date.now();
    if (remaining <= 0 || ctx.signal.aborted) break;
    await sleep(Math.min(intervalSeconds * 1000, remaining), undefined, { signal: ctx.signal }).catch(() => undefined);
    if (ctx.signal.aborted) break;
    await take();
  }
  return samples;
}
