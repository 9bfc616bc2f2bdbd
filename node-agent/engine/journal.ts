import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { findTracefs, processAlive, removeInstance, staleInstances } from './tracefs.js';

/** Kernel state that ksleuth changed and must put back. */
export type JournalEntry = { type: 'tracefs-instance'; path: string } | { type: 'process'; pid: number; startTicks: number; command: string };

interface JournalFile {
  ownerPid: number;
  entries: Record<string, JournalEntry>;
}

/**
 * A durable record of the kernel state this process changed: private tracefs instances, tracer
 * processes. Each entry is written to disk before the change is made and removed
 * after it is undone, so whatever a crash leaves behind is undone at the next start.
 */
export class KernelStateJournal {
  private readonly file: string;
  private readonly entries = new Map<string, JournalEntry>();
  private nextId = 0;

  private constructor(
    readonly stateDir: string,
    private readonly log: Logger,
  ) {
    this.file = join(stateDir, `kernel-state-${process.pid}.json`);
  }

  static open(stateDir: string, log: Logger): KernelStateJournal {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const journal = new KernelStateJournal(stateDir, log);
    journal.flush();
    return journal;
  }

  /** Records a change before it is made; returns the id to release it with. */
  record(entry: JournalEntry): string {
    const id = String(this.nextId++);
    this.entries.set(id, entry);
    this.flush();
    return id;
  }

  /** Forgets a change that has been undone. */
  release(id: string): void {
    if (this.entries.delete(id)) this.flush();
  }

  get pending(): JournalEntry[] {
    return [...this.entries.values()];
  }

  /** Undoes whatever is still recorded (a capture that did not clean up) and removes the file. */
  async close(): Promise<void> {
    for (const [id, entry] of [...this.entries].reverse()) {
      await undo(entry, this.log);
      this.entries.delete(id);
    }
    rmSync(this.file, { force: true });
  }

  private flush(): void {
    const body: JournalFile = { ownerPid: process.pid, entries: Object.fromEntries(this.entries) };
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(body), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

/** The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat). */
export async function processStartTicks(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[19]);
}

async function undo(entry: JournalEntry, log: Logger): Promise<void> {
  try {
    if (entry.type === 'tracefs-instance') {
      await removeInstance(entry.path);
      log.info({ instance: entry.path }, 'Removed tracefs instance');
    } else if (entry.type === 'process') {
      // Only the very process that was started: a reused pid has another start time.
      if ((await processStartTicks(entry.pid)) === entry.startTicks) {
        process.kill(entry.pid, 'SIGKILL');
        log.info({ pid: entry.pid, command: entry.command }, 'Killed leftover tracer process');
      }
    }
  } catch (error) {
    log.warn({ entry, err: error }, 'Could not undo a kernel state change');
  }
}

export interface RecoveryReport {
  undone: JournalEntry[];
  staleInstances: string[];
}

/**
 * Undoes what crashed runs left behind: entries of journals whose owner is gone, and ksleuth
 * tracefs instances whose owner is gone. Call once at start.
 */
export async function recoverKernelState(stateDir: string, log: Logger, tracefsCandidates?: string[]): Promise<RecoveryReport> {
  const report: RecoveryReport = { undone: [], staleInstances: [] };
  let files: string[] = [];
  try {
    files = readdirSync(stateDir).filter((f) => /^kernel-state-\d+\.json$/.test(f));
  } catch {
    files = [];
  }
  for (const file of files) {
    const path = join(stateDir, file);
    let journal: JournalFile;
    try {
      journal = JSON.parse(readFileSync(path, 'utf8')) as JournalFile;
    } catch {
      rmSync(path, { force: true });
      continue;
    }
    if (journal.ownerPid !== process.pid && processAlive(journal.ownerPid)) continue;
    for (const entry of Object.values(journal.entries).reverse()) {
      await undo(entry, log);
      report.undone.push(entry);
    }
    rmSync(path, { force: true });
  }
  const root = await findTracefs(tracefsCandidates);
  if (root) {
    for (const instance of await staleInstances(root, processAlive)) {
      await removeInstance(instance).catch((error: unknown) => log.warn({ instance, err: error }, 'Could not remove a stale tracefs instance'));
      report.staleInstances.push(instance);
    }
  }
  if (report.undone.length + report.staleInstances.length > 0) {
    log.warn({ undone: report.undone.length, staleInstances: report.staleInstances }, 'Restored kernel state left by an earlier run');
  }
  return report;
}
