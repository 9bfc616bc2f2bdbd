import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { KernelStateJournal } from '../../engine/journal.js';
import { readCapped } from '../../engine/read-capped.js';
import { createInstance, removeInstance } from '../../engine/tracefs.js';

/**
 * Runs `work` with a private tracefs instance that is recorded in the journal before anything
 * else happens and removed on every way out: success, error, abort. If the agent dies instead,
 * the journal entry (and the owner pid in the instance's name) let the next start remove it.
 */
export async function withPrivateInstance<T>(
  root: string,
  purpose: string,
  journal: KernelStateJournal,
  log: Logger,
  work: (instance: string) => Promise<T>,
): Promise<T> {
  const instance = await createInstance(root, purpose);
  let id: string | undefined;
  try {
    id = journal.record({ type: 'tracefs-instance', path: instance });
    return await work(instance);
  } finally {
    try {
      await removeInstance(instance);
      if (id !== undefined) journal.release(id);
    } catch (error) {
      // Kept in the journal: closing the journal (or the next start) tries again.
      log.warn({ instance, err: error }, 'Could not remove the tracefs instance yet');
    }
  }
}

/** Reads at most maxBytes of a tracefs file (the trace can be far larger than memory allows), in whole lines. */
export async function readTraceCapped(path: string, maxBytes: number): Promise<{ text: string; truncated: boolean }> {
  const { data, truncated } = await readCapped(path, maxBytes);
  const text = data.toString('utf8');
  // A cut-off last line would parse as a record with a wrong body.
  return { text: truncated ? text.slice(0, text.lastIndexOf('\n') + 1) : text, truncated };
}

/** The per_cpu/cpuN/stats files of an instance (entries, overruns, dropped events). */
export async function readCpuStats(instance: string): Promise<string[]> {
  const cpus = (await readdir(join(instance, 'per_cpu')).catch(() => [] as string[])).filter((d) => /^cpu\d+$/.test(d));
  return Promise.all(cpus.map((cpu) => readFile(join(instance, 'per_cpu', cpu, 'stats'), 'utf8').catch(() => '')));
}
