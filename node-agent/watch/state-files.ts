import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { watchFinding } from '../../api/v1alpha1/node.js';
import { writeFileAtomic } from '../../lib/atomic-file.js';
import type { TierConfig } from './config.js';
import { History, HistoryFileError } from './history.js';

/**
 * The watch keeps two files under <state-dir>/watch/, on the node so that restarts and upgrades
 * of the agent keep them: history.bin (the bounded history, written every persistSeconds) and
 * state.json (active findings and where the kernel log was read up to, written when they change).
 * Both are replaced atomically. A damaged file is set aside as <name>.corrupt (one copy, the
 * latest) and the watch starts that part afresh, saying so: neither holds anything the node needs
 * to be restored.
 */
export const historyFileName = 'history.bin';
export const stateFileName = 'state.json';

export function watchDir(stateDir: string): string {
  return join(stateDir, 'watch');
}

const watchState = z.object({
  version: z.literal(1),
  /** The boot the kernel-log position and permanent findings belong to. */
  bootId: z.string(),
  /** The last kernel log record read, in µs since boot. */
  kernelLogUsec: z.number().min(0),
  findings: z.array(watchFinding),
});
export type WatchState = z.infer<typeof watchState>;

async function setAside(path: string): Promise<string> {
  await rename(path, `${path}.corrupt`).catch(() => undefined);
  return `${path}.corrupt`;
}

async function readIfPresent(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The history from the node, or an empty one; `problem` says what was wrong when it could not be read. */
export async function loadHistory(dir: string, tiers: TierConfig[], maxSeries: number): Promise<{ history: History; problem?: string }> {
  const path = join(dir, historyFileName);
  let buffer: Buffer | undefined;
  try {
    buffer = await readIfPresent(path);
  } catch (error) {
    return { history: new History(tiers, maxSeries), problem: `the history file ${path} cannot be read (${(error as Error).message}); started a new history` };
  }
  if (!buffer) return { history: new History(tiers, maxSeries) };
  try {
    const { history, dropped } = History.decode(buffer, tiers, maxSeries);
    return dropped.length > 0 ? { history, problem: `the history tiers changed; the points of ${dropped.join(', ')} were dropped` } : { history };
  } catch (error) {
    if (!(error instanceof HistoryFileError)) throw error;
    const aside = await setAside(path);
    return {
      history: new History(tiers, maxSeries),
      problem: `the history file ${path} was damaged (${error.message}); kept it as ${aside} and started a new history`,
    };
  }
}

/** Writes the history atomically; returns its size in bytes. */
export async function saveHistory(dir: string, history: History, nowMs: number): Promise<number> {
  const bytes = history.encode(nowMs);
  await writeFileAtomic(join(dir, historyFileName), bytes);
  return bytes.length;
}

export async function loadWatchState(dir: string): Promise<{ state?: WatchState; problem?: string }> {
  const path = join(dir, stateFileName);
  let buffer: Buffer | undefined;
  try {
    buffer = await readIfPresent(path);
  } catch (error) {
    return { problem: `the watch state file ${path} cannot be read (${(error as Error).message}); started afresh` };
  }
  if (!buffer) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(buffer.toString('utf8'));
  } catch (error) {
    const aside = await setAside(path);
    return { problem: `the watch state file ${path} is not JSON (${(error as Error).message}); kept it as ${aside} and started afresh` };
  }
  const result = watchState.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const aside = await setAside(path);
    return {
      problem: `the watch state file ${path} is not in the expected form (${issue.path.join('.') || 'top level'}: ${issue.message}); kept it as ${aside} and started afresh`,
    };
  }
  return { state: result.data };
}

export async function saveWatchState(dir: string, state: WatchState): Promise<void> {
  await writeFileAtomic(join(dir, stateFileName), `${JSON.stringify(state)}\n`);
}
